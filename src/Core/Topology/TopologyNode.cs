namespace GpuPs.Core.Topology;

/// <summary>One node of a <see cref="ClusterTopology"/>: its label, its workers, where its aggregator listens, its rack.</summary>
/// <param name="Label">The node's name, unique in the topology (letters, digits, '.', '_', '-').</param>
/// <param name="Workers">Worker ids on this node, ascending, each on no other node.</param>
/// <param name="Aggregators">The node aggregator's addresses, one per shard in shard order (<c>http://host:port</c>);
/// empty when the node has none (its workers push to the shards directly, or an embedded cluster starts one).</param>
/// <param name="Rack">The rack the node sits in; empty when not given. Informational (logs, status).</param>
public sealed record TopologyNode(string Label, IReadOnlyList<int> Workers, IReadOnlyList<string> Aggregators, string Rack = "");
