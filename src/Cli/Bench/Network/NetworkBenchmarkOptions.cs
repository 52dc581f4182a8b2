namespace GpuPs.Cli.Bench.Network;

/// <summary>Settings of <c>gpups bench network</c>.</summary>
/// <param name="Workers">Workers per scenario, each in its own namespace.</param>
/// <param name="Features">Features of the synthetic softmax model (parameters = classes × (features + 1)).</param>
/// <param name="Classes">Classes of the model.</param>
/// <param name="Steps">BSP steps per scenario (step 0 is left out of the statistics).</param>
/// <param name="ServerMbit">Rate of each server's link, each way, in Mbit/s.</param>
/// <param name="PushConcurrency">Round-robin: transfers that may share a server link at a time.</param>
/// <param name="Scenarios">Names of the scenarios to run (empty: all).</param>
/// <param name="DelayMs">One-way delay added to every server link, in milliseconds, by a user-space <see cref="DelayProxy"/>
/// in front of each server (0: none).</param>
/// <param name="Hidden">Hidden units of the layered scenario's MLP.</param>
/// <param name="BatchSize">Rows per worker per step (sets the compute time).</param>
/// <param name="Compression">Compression of pushes and pulls (none, topk, sign; docs/compression.md).</param>
/// <param name="TopKRatio">Top-k: the share of values a message carries.</param>
/// <param name="Rows">Rows of the synthetic data set (0: a few per worker, enough to time steps; more to measure accuracy).</param>
/// <param name="Separation">Class separation of the synthetic data set (1: its default; larger: more learnable).</param>
/// <param name="FullPullEvery">Compressed pulls: every this many pulls of a worker carry the exact parameters (<c>--full-pull-every</c>).</param>
/// <param name="Momentum">Compressed pushes: momentum correction (<c>--momentum-correction</c>; 0: off).</param>
/// <param name="TimelineDir">Where each scenario's link timeline goes (<see cref="LinkTimeline.Write"/>; null: not written).</param>
/// <param name="Pieces">The pieces scenarios' piece size and credit (<c>--piece-size</c>, <c>--credit-bytes</c>); null: auto.</param>
public sealed record NetworkBenchmarkOptions(int Workers = 8, int Features = 3999, int Classes = 1000, int Steps = 8, double ServerMbit = 1000,
    int PushConcurrency = 1, IReadOnlyList<string>? Scenarios = null, double DelayMs = 0, int Hidden = 500, int BatchSize = 8,
    string Compression = "none", double TopKRatio = 0.01, int Rows = 0, double Separation = 1, int FullPullEvery = Core.Compression.CompressionSettings.DefaultFullPullEvery,
    double Momentum = 0, string? TimelineDir = null, Worker.Scheduling.PieceOptions? Pieces = null)
{
    /// <summary>Parameters of the softmax model: classes × features weights and one bias per class.</summary>
    public long Parameters => (long)Classes * (Features + 1);

    /// <summary>Parameters of the layered scenario's MLP: hidden × (features + 1) then classes × (hidden + 1).</summary>
    public long LayeredParameters => (long)Hidden * (Features + 1) + (long)Classes * (Hidden + 1);
}
