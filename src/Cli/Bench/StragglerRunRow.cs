namespace GpuPs.Cli.Bench;

/// <summary>
/// One training run of the straggler benchmark, as a row of its table and CSV. Step times are those of shard 0
/// (open → close wall time of each step; for ASP/SSP, of each round of n updates), warm-up steps left out.
/// </summary>
/// <param name="Scheme">Aggregation scheme (<see cref="StragglerScheme.Name"/>).</param>
/// <param name="S">Stragglers tolerated (0 for BSP, SSP, ASP).</param>
/// <param name="Delay">Straggler model spec, without the unit (the same for every run).</param>
/// <param name="Load">Partitions computed per worker per step.</param>
/// <param name="K">Workers a step waits for at most (coded: n − s, though it closes on the first decodable responder set,
/// which may be smaller; multi-message: partitions to cover; ASP/SSP: all n must finish).</param>
/// <param name="MeanMs">Mean step time.</param>
/// <param name="SemMs">Standard error of <paramref name="MeanMs"/> (sample sd / √steps): the noise any comparison with the bound carries.</param>
/// <param name="P50Ms">Median step time.</param>
/// <param name="P99Ms">99th percentile (linear interpolation; with ~30 steps it is close to the maximum).</param>
/// <param name="BoundMs">Expected step time under the time model, plus the scheme's measured overhead.</param>
/// <param name="BoundSemMs">Standard error of <paramref name="BoundMs"/>: 0 when exact, else the Monte Carlo's.</param>
/// <param name="BoundMethod">How <paramref name="BoundMs"/> was obtained: <c>order-stat</c> (exact E[T_(k)]),
/// <c>decodable</c> (exact expected time of the first decodable responder set), <c>monte-carlo</c> (multi-message cover
/// time; coded beyond 12 workers), <c>slowest-mean</c> (ASP/SSP: the slowest worker's mean step).</param>
/// <param name="Ratio">MeanMs / BoundMs.</param>
/// <param name="DrawsMs">The time model on the run's own delay draws for its measured steps (for ASP/SSP, all steps),
/// plus the same overhead: what the bound predicts for exactly these ~30 steps, free of the sampling noise that the
/// expectation carries.</param>
/// <param name="DrawsRatio">MeanMs / DrawsMs: how far the system itself is from the model.</param>
/// <param name="TimeToTargetS">Seconds from the close of step 0 until the first step whose mean training loss is at most the
/// target; empty when never reached.</param>
/// <param name="TestAccuracy">Final test accuracy.</param>
/// <param name="BytesPushed">Gradient bytes pushed by all workers (dropped pushes included: they crossed the wire).</param>
/// <param name="DroppedLate">Pushes the server refused because their step had already closed.</param>
/// <param name="Abandoned">Steps workers abandoned mid-compute because the step closed without them.</param>
/// <param name="ComputeUs">Measured real gradient compute per partition (throttle repeats divided out), in microseconds.</param>
/// <param name="OverheadMs">Per-step overhead added to the bound: this scheme's no-delay mean step minus its modelled
/// compute (communication, encode/decode, scheduling), at least 0.</param>
/// <param name="WallS">Wall time of the whole run, start-up and evaluation included.</param>
/// <param name="Devices">The workers' compute devices, as the training summary names them (<c>--accelerator</c>).</param>
public sealed record StragglerRunRow(
    string Scheme,
    int S,
    string Delay,
    int Load,
    int K,
    double MeanMs,
    double SemMs,
    double P50Ms,
    double P99Ms,
    double BoundMs,
    double BoundSemMs,
    string BoundMethod,
    double Ratio,
    double DrawsMs,
    double DrawsRatio,
    double? TimeToTargetS,
    double TestAccuracy,
    long BytesPushed,
    long DroppedLate,
    long Abandoned,
    double ComputeUs,
    double OverheadMs,
    double WallS,
    string Devices = "");
