namespace GpuPs.Core.Topology;

/// <summary>
/// Which workers share a node, for hierarchical aggregation: each node's aggregator sums its workers' pushes (as far as
/// the job's mode allows) and sends one message per step per shard upstream. Workers on no node push to the shards
/// directly. Immutable; read from a file (<see cref="TopologyFile"/>) or split evenly (<see cref="Even"/>).
/// </summary>
public sealed class ClusterTopology
{
    private readonly Dictionary<int, TopologyNode> _nodeOf = [];

    /// <summary>A topology of <paramref name="nodes"/>, which must have distinct labels and share no worker.</summary>
    /// <exception cref="ArgumentException">A label or a worker appears twice, or a node has no worker.</exception>
    public ClusterTopology(IReadOnlyList<TopologyNode> nodes)
    {
        Nodes = nodes;
        var labels = new HashSet<string>();
        foreach (var node in nodes)
        {
            if (!labels.Add(node.Label)) throw new ArgumentException($"node '{node.Label}' is named twice");
            if (node.Workers.Count == 0) throw new ArgumentException($"node '{node.Label}' has no workers");
            foreach (var w in node.Workers)
                if (!_nodeOf.TryAdd(w, node)) throw new ArgumentException($"worker {w} is on node '{_nodeOf[w].Label}' and on node '{node.Label}'");
        }
    }

    /// <summary>The nodes, in the order given.</summary>
    public IReadOnlyList<TopologyNode> Nodes { get; }

    /// <summary>The node <paramref name="workerId"/> runs on; null when it is on none.</summary>
    public TopologyNode? NodeOf(int workerId) => _nodeOf.GetValueOrDefault(workerId);

    /// <summary>The node labelled <paramref name="label"/>.</summary>
    /// <exception cref="ArgumentException">No node has that label.</exception>
    public TopologyNode Node(string label) => Nodes.FirstOrDefault(n => n.Label == label)
        ?? throw new ArgumentException($"the topology has no node '{label}' (nodes: {string.Join(", ", Nodes.Select(n => n.Label))})");

    /// <summary>
    /// <paramref name="workers"/> workers split into <paramref name="nodes"/> nodes of consecutive ids, sizes differing
    /// by at most one, labelled node-0, node-1, …, without aggregator addresses.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than one node, or more nodes than workers.</exception>
    public static ClusterTopology Even(int workers, int nodes)
    {
        if (nodes < 1 || nodes > workers)
            throw new ArgumentOutOfRangeException(nameof(nodes), nodes, $"nodes must be 1 to the number of workers ({workers})");
        return new ClusterTopology(Enumerable.Range(0, nodes).Select(n =>
        {
            int from = (int)((long)workers * n / nodes), to = (int)((long)workers * (n + 1) / nodes);
            return new TopologyNode($"node-{n}", Enumerable.Range(from, to - from).ToArray(), []);
        }).ToArray());
    }

    /// <summary>
    /// Checks the topology against a job: every worker id below <paramref name="workers"/>, and every aggregator list one
    /// address per shard (<paramref name="shards"/>).
    /// </summary>
    /// <exception cref="ArgumentException">With the node and what is wrong.</exception>
    public void Validate(int workers, int shards)
    {
        foreach (var node in Nodes)
        {
            foreach (var w in node.Workers)
                if (w >= workers)
                    throw new ArgumentException($"topology node '{node.Label}' names worker {w}, but the job has {workers} workers (ids 0..{workers - 1})");
            if (node.Aggregators.Count != 0 && node.Aggregators.Count != shards)
                throw new ArgumentException($"topology node '{node.Label}' gives {node.Aggregators.Count} aggregator addresses, the job has {shards} shards (one address per shard, in shard order)");
        }
    }
}
