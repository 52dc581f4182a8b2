namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// One run of <c>gpups bench network</c>: how many shards, each on its own link of <paramref name="ServerMbit"/>; how
/// many workers; worker 0's link rate when it is the slow one (the others' links are unshaped); the push schedule.
/// </summary>
public sealed record NetworkScenario(string Name, string Schedule, int Shards, int Workers, double ServerMbit, double? SlowWorkerMbit)
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
    ];
}
