using System.CommandLine;
using GpuPs.Core.Topology;

namespace GpuPs.Cli.Settings;

/// <summary>
/// The hierarchical-aggregation options (docs/architecture.md, "Hierarchical aggregation"): the topology (a file, or
/// <c>--nodes K</c> for an embedded cluster) and the two deadlines, the aggregator's gather deadline and the worker's
/// wait for its aggregator.
/// </summary>
public sealed class TopologyOptions(SettingSources sources)
{
    /// <summary><c>--topology FILE</c>: one node per line, <c>LABEL workers=IDS [aggregator=URL,…] [rack=LABEL]</c>.</summary>
    public Option<string?> File { get; } = sources.Option<string?>("topology", null,
        "hierarchical aggregation: a topology file, one node per line: LABEL workers=0-3 [aggregator=http://HOST:PORT,… (one per shard)] [rack=LABEL]");

    /// <summary><c>--nodes K</c> (train): K nodes of consecutive worker ids, each with an aggregator task.</summary>
    public Option<int> Nodes { get; } = sources.Option("nodes", 0, "hierarchical aggregation in the embedded cluster: split the workers into this many nodes, each with its own aggregator (0: flat)");

    /// <summary><c>--gather-timeout-ms</c>: how long an aggregator waits for the rest of its node after a step's first push.</summary>
    public Option<int> GatherTimeoutMs { get; } = sources.Option("gather-timeout-ms", 2_000,
        "node aggregator: forward a step's sum this long after the node's first push even if some of its workers have not pushed");

    /// <summary><c>--aggregator-timeout-ms</c>: how long a worker waits for its aggregator before pushing directly.</summary>
    public Option<int> AggregatorTimeoutMs { get; } = sources.Option("aggregator-timeout-ms", 10_000,
        "worker: an aggregator that has not answered a push within this is taken as dead or frozen, and the worker pushes to the shards directly");

    /// <summary>The topology the options name, or null (flat) when neither <c>--topology</c> nor <c>--nodes</c> is given.</summary>
    /// <exception cref="SettingsException">Both given, <c>--nodes</c> out of range, a deadline not positive.</exception>
    /// <exception cref="Core.Data.DataFormatException">A malformed topology file (its line and reason).</exception>
    public ClusterTopology? Resolve(ParseResult parse, int workers)
    {
        var path = parse.GetValue(File);
        int nodes = parse.GetValue(Nodes);
        if (parse.GetValue(GatherTimeoutMs) <= 0) throw new SettingsException("--gather-timeout-ms must be positive");
        if (parse.GetValue(AggregatorTimeoutMs) <= 0) throw new SettingsException("--aggregator-timeout-ms must be positive");
        if (path is { Length: > 0 } && nodes > 0) throw new SettingsException("give --topology or --nodes, not both");
        if (nodes < 0 || (nodes > 0 && nodes > workers)) throw new SettingsException($"--nodes must be 1 to the number of workers ({workers}), or 0 for flat aggregation; got {nodes}");
        if (nodes > 0) return ClusterTopology.Even(workers, nodes);
        return path is { Length: > 0 } ? TopologyFile.Load(path) : null;
    }
}
