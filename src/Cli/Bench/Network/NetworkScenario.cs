namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// One run of <c>gpups bench network</c>: how many shards, each on its own link of <paramref name="ServerMbit"/>; how
/// many workers; worker 0's link rate when it is the slow one (the others' links are unshaped); the push schedule. With
/// <paramref name="Nodes"/> the workers share that many node hosts (consecutive ids), each with an uplink of
/// <paramref name="ServerMbit"/>, and with <paramref name="Hierarchical"/> each node runs a <c>gpups aggregator</c> its
/// workers push to and pull from.
/// </summary>
public sealed record NetworkScenario(string Name, string Schedule, int Shards, int Workers, double ServerMbit, double? SlowWorkerMbit,
    int Nodes = 0, bool Hierarchical = false)
{
    /// <summary>
    /// The scenarios of the issue, each simultaneous and round-robin: the server link limited, one slow worker link
    /// (a quarter of the server's rate), and two shards on separate links.
    /// </summary>
    public static IReadOnlyList<NetworkScenario> Standard(int workers, double serverMbit) =>
    [
        .. new[] { "simultaneous", "round-robin" }.SelectMany(schedule => new NetworkScenario[]
        {
            new("server-link", schedule, 1, workers, serverMbit, null),
            new("slow-worker-link", schedule, 1, workers, serverMbit, serverMbit / 4),
            new("two-shards", schedule, 2, workers, serverMbit, null),
        }),
        .. TwoNodes(workers, serverMbit),
    ];

    /// <summary>Two nodes of workers/2 each, flat (every worker pushes over its node's uplink) and hierarchical (one aggregator per node).</summary>
    public static IReadOnlyList<NetworkScenario> TwoNodes(int workers, double serverMbit) =>
    [
        new("two-nodes-flat", "simultaneous", 1, workers, serverMbit, null, Nodes: 2),
        new("two-nodes-hierarchical", "simultaneous", 1, workers, serverMbit, null, Nodes: 2, Hierarchical: true),
    ];
}
