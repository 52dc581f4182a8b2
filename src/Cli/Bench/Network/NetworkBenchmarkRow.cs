namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// One scenario's result. Step times are shard 0's, push latencies every worker's (first byte to every shard's answer:
/// a round-robin push's wait for its turns is not included, it is <see cref="TurnWaitS"/>), both without step 0
/// (start-up and JIT). The link bound is the bytes per step over the
/// busiest shaped link direction divided by its rate: no schedule can beat it. Utilisation is that link's bytes over
/// rate × the run's step time. Server-in is what the workers (or node aggregators) sent to shard 0's link per step; the
/// model hash is the SHA-256 of the final parameters (all shards), and the largest difference is from the run before it
/// in the same benchmark (the flat run, for the hierarchical one; NaN for the others). Compression runs add
/// the compression, the final model's test accuracy, the workers' compression CPU seconds per step (summed over
/// workers) and the bytes pushed and pulled per step (all workers). The step's timeline, from the workers' reports
/// (means per step): compute, the wait for the step's parameters (pull) and the push. The busy shares are the shares of
/// the measured steps' time in which shard 0's link carried at least half its rate into the server (pushes) and out of
/// it (pulls) (<see cref="LinkTimeline"/>).
/// </summary>
public sealed record NetworkBenchmarkRow(
    string Scenario, string Schedule, int Shards, int Workers, long Parameters, double ServerMbit, double SlowWorkerMbit, int Steps,
    double StepMeanS, double StepP50S, double StepP99S, double PushMeanS, double PushP50S, double PushP99S,
    string BusiestLink, double BusiestLinkMBPerStep, double LinkBoundS, double StepOverBound, double LinkUtilisation,
    double ServerInMBPerStep = double.NaN, string ModelSha256 = "", double MaxAbsDiffVsFlat = double.NaN, double DelayMs = 0, double ComputeS = 0,
    string Compression = "none", double TestAccuracy = double.NaN, double CompressCpuSPerStep = 0, double PushedMBPerStep = 0, double PulledMBPerStep = 0,
    double PullS = 0, double PushS = 0)
{
    /// <summary>Share of the measured steps' time in which the server link carried at least half its rate in (pushes).</summary>
    public double InBusyShare { get; init; } = double.NaN;

    /// <summary>Share of the measured steps' time in which the server link carried at least half its rate out (pulls).</summary>
    public double OutBusyShare { get; init; } = double.NaN;

    /// <summary>Round-robin: the workers' mean wait for push turns per step, before the first byte (0 without turns).</summary>
    public double TurnWaitS { get; init; }

    /// <summary>Round-robin: the most pushes shard 0 ever let hold a turn at once (never above the push concurrency; 0 without turns).</summary>
    public int TurnPeak { get; init; }

    /// <summary>Round-robin: shard 0's turns passed on because their worker was not ready within the pass bound.</summary>
    public long TurnsPassed { get; init; }

    /// <summary>The job's mode (bsp, asp, ssp); with asp and ssp every step column is of a round: n pushes, each applied on arrival.</summary>
    public string Mode { get; init; } = "bsp";

    /// <summary>The training loss the last step (asp, ssp: the last round's pushes, on average) reported: what staleness cost.</summary>
    public double FinalLoss { get; init; } = double.NaN;

    /// <summary>max(compute, link bound): the step time no schedule can beat (ComputeS: the workers' mean compute time per step, from their reports).</summary>
    public double BoundS => Math.Max(ComputeS, LinkBoundS);

    /// <summary>The mean step over <see cref="BoundS"/>.</summary>
    public double StepOverMaxBound => StepMeanS / BoundS;
}
