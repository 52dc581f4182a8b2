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
    /// The job's consistency mode: BSP, or ASP and SSP (<see cref="PerPush"/>), whose every push is applied on arrival.
    /// </summary>
    public Protocol.SyncMode Mode { get; init; } = Protocol.SyncMode.Bsp;

    /// <summary>Every push is applied on arrival (ASP, SSP): a "step" of the results is one round of n pushes.</summary>
    public bool PerPush => Mode is Protocol.SyncMode.Asp or Protocol.SyncMode.Ssp;

    /// <summary>Train the MLP (<see cref="NetworkBenchmarkOptions.Hidden"/> hidden units) instead of softmax: a large first layer, a small second.</summary>
    public bool Layered { get; init; }

    /// <summary>Workers split tensors into pieces sent by priority under a credit (<c>--piece-size</c>); null: whole tensors.</summary>
    public Worker.Scheduling.PieceOptions? Pieces { get; init; }

    /// <summary>How the workers overlap compute with the push (<c>--overlap</c>).</summary>
    public Worker.ComputeOverlap Overlap { get; init; }

    /// <summary>The job's push schedule (<c>--schedule</c>): round-robin for "round-robin" and "round-robin+pieces", else simultaneous.</summary>
    public string JobSchedule => Schedule.StartsWith("round-robin", StringComparison.Ordinal) ? "round-robin" : "simultaneous";

    /// <summary>
    /// The scenarios of the issue, each simultaneous and round-robin: the server link limited, one slow worker link
    /// (a quarter of the server's rate), and two shards on separate links.
    /// </summary>
    /// <param name="workers">Workers per scenario.</param>
    /// <param name="serverMbit">Each server link's rate.</param>
    /// <param name="pieces">The pieces scenarios' piece size and credit; null: auto.</param>
    public static IReadOnlyList<NetworkScenario> Standard(int workers, double serverMbit, Worker.Scheduling.PieceOptions? pieces = null) =>
    [
        .. new[] { "simultaneous", "round-robin" }.SelectMany(schedule => new NetworkScenario[]
        {
            new("server-link", schedule, 1, workers, serverMbit, null),
            new("slow-worker-link", schedule, 1, workers, serverMbit, serverMbit / 4),
            new("two-shards", schedule, 2, workers, serverMbit, null),
        }),
        .. EarlyPulls(workers, serverMbit, pieces ?? new()),
        .. PerPushUpdates(workers, serverMbit),
        .. TwoNodes(workers, serverMbit),
        .. LayeredModel(workers, serverMbit, pieces ?? new()),
    ];

    /// <summary>
    /// The server-link scenario with BSP per-range closing (the job's pieces; auto: ranges of
    /// <see cref="Worker.Scheduling.PieceOptions.StartPieceFloats"/>): each range's pull leaves as soon as the shard applied
    /// it, overlapping the other ranges' pushes; simultaneous and within round-robin slots. Compare with
    /// <c>server-link</c> in the same run.
    /// </summary>
    public static IReadOnlyList<NetworkScenario> EarlyPulls(int workers, double serverMbit, Worker.Scheduling.PieceOptions pieces) =>
    [
        .. new[] { "pieces", "round-robin+pieces" }.Select(schedule =>
            new NetworkScenario("early-pulls", schedule, 1, workers, serverMbit, null) { Pieces = pieces }),
    ];

    /// <summary>
    /// R2SP as the paper runs it: the server link with per-push updates, ASP and SSP (the job's staleness bound), each
    /// with simultaneous pushes and with round-robin turns, in which a worker takes the fresh parameters back with its
    /// push and computes while the next workers push, so the link need not idle for anyone's compute.
    /// </summary>
    public static IReadOnlyList<NetworkScenario> PerPushUpdates(int workers, double serverMbit) =>
    [
        .. new[] { Protocol.SyncMode.Asp, Protocol.SyncMode.Ssp }.SelectMany(mode => new[] { "simultaneous", "round-robin" }.Select(schedule =>
            new NetworkScenario(mode == Protocol.SyncMode.Asp ? "asp" : "ssp", schedule, 1, workers, serverMbit, null) { Mode = mode })),
    ];

    /// <summary>
    /// Issue 15's scenario: the MLP (a few large layers hold most parameters) on one server link, with whole tensors pushed
    /// simultaneously and round-robin, split into pieces (BSP: the job's ranges, closed one by one, early pulls), alone
    /// and within the round-robin turns, and in pieces with the wavefront (<see cref="Worker.ComputeOverlap.Wavefront"/>:
    /// each piece pushed as soon as its gradient block is computed).
    /// </summary>
    public static IReadOnlyList<NetworkScenario> LayeredModel(int workers, double serverMbit, Worker.Scheduling.PieceOptions pieces) =>
    [
        .. new[] { "simultaneous", "round-robin", "pieces", "round-robin+pieces", "wavefront" }.Select(schedule =>
            new NetworkScenario("layered", schedule, 1, workers, serverMbit, null)
            {
                Layered = true,
                Pieces = schedule is "simultaneous" or "round-robin" ? null : pieces,
                Overlap = schedule == "wavefront" ? Worker.ComputeOverlap.Wavefront : Worker.ComputeOverlap.None,
            }),
    ];

    /// <summary>Two nodes of workers/2 each, flat (every worker pushes over its node's uplink) and hierarchical (one aggregator per node).</summary>
    public static IReadOnlyList<NetworkScenario> TwoNodes(int workers, double serverMbit) =>
    [
        new("two-nodes-flat", "simultaneous", 1, workers, serverMbit, null, Nodes: 2),
        new("two-nodes-hierarchical", "simultaneous", 1, workers, serverMbit, null, Nodes: 2, Hierarchical: true),
    ];
}
