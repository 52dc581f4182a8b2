using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The straggler benchmark's runs and the rows derived from them. Derivation happens once all runs are in, because two
/// columns depend on other runs: the bound's overhead (from the same scheme's no-delay run) and the loss target (from the
/// BSP no-delay run).
/// </summary>
public sealed record StragglerBenchmarkResult(
    StragglerBenchmarkOptions Options,
    IReadOnlyList<StragglerRun> Runs,
    IReadOnlyList<StragglerRunRow> Rows,
    IReadOnlyList<string> Skipped,
    double TargetLoss,
    string TargetSource)
{
    /// <summary>Builds the rows of <paramref name="runs"/> (in order).</summary>
    /// <remarks>
    /// Bound = E[step] under the time model (<see cref="StepTimeBound"/>, with the run's own measured compute per partition)
    /// + overhead, where overhead is what the time model does not see — loopback gRPC, encode/decode, thread scheduling on
    /// 2 cores — estimated per (scheme, s) as its no-delay mean step minus its no-delay model time, floored at 0. The
    /// no-delay row's ratio is therefore 1 by construction (the calibration); without a no-delay run the overhead is 0.
    /// </remarks>
    public static StragglerBenchmarkResult From(StragglerBenchmarkOptions options, IReadOnlyList<StragglerRun> runs, IReadOnlyList<string> skipped)
    {
        var (target, source) = Target(options, runs);
        var overhead = runs.Where(r => r.Model.Model is NoStragglers)
            .ToDictionary(r => (r.Scheme.Name, r.S), r => Math.Max(0, r.Steps.SortedTimes(options.WarmupSteps).Average() - Model(r, options).Seconds));
        var rows = runs.Select(r => Row(r, options, overhead.GetValueOrDefault((r.Scheme.Name, r.S)), target)).ToList();
        return new StragglerBenchmarkResult(options, runs, rows, skipped, target, source);
    }

    /// <summary>The row of (scheme, s, delay spec), or null when it was not run.</summary>
    public StragglerRunRow? Find(StragglerScheme scheme, int s, string delay) =>
        Rows.FirstOrDefault(r => r.Scheme == scheme.Name && r.S == s && r.Delay == delay);

    /// <summary>
    /// The s at which <paramref name="scheme"/> is featured in the loss curves: 0 for the schemes that ignore
    /// s, else the smallest s run at or above <see cref="StragglerBenchmarkOptions.FeaturedStragglers"/> (fractional
    /// repetition cannot run s = 2 at n = 8 and moves to s = 3), else the largest s run; null when the scheme never ran.
    /// </summary>
    public int? FeaturedS(StragglerScheme scheme)
    {
        var ran = Runs.Where(r => r.Scheme == scheme).Select(r => r.S).Distinct().Order().ToList();
        if (ran.Count == 0) return null;
        return ran.Where(s => s >= Options.FeaturedStragglers).Cast<int?>().FirstOrDefault() ?? ran[^1];
    }

    private static (double Seconds, double StandardError, string Method) Model(StragglerRun r, StragglerBenchmarkOptions o) =>
        StepTimeBound.Expected(r.Scheme, o.Workers, r.S, r.Model, r.ComputePerPartition);

    private static StragglerRunRow Row(StragglerRun r, StragglerBenchmarkOptions o, double overhead, double target)
    {
        var times = r.Steps.SortedTimes(o.WarmupSteps);
        double mean = times.Average();
        double sd = Math.Sqrt(times.Sum(t => (t - mean) * (t - mean)) / Math.Max(1, times.Length - 1));
        var (model, modelSe, method) = Model(r, o);
        double bound = model + overhead;
        // ASP/SSP rounds do not map to worker steps, and the slowest worker's mean is over all its steps.
        int from = r.Scheme.IsAsynchronous ? 0 : o.WarmupSteps;
        double draws = StepTimeBound.OnDraws(r.Scheme, o.Workers, r.S, r.Model, r.ComputePerPartition, from, o.Steps) + overhead;
        var res = r.Result;
        return new StragglerRunRow(
            r.Scheme.Name, r.S, r.Delay, r.Scheme.Load(r.S), r.Scheme.Waits(o.Workers, r.S),
            mean * 1e3, sd / Math.Sqrt(times.Length) * 1e3, StepSeries.Quantile(times, 0.5) * 1e3, StepSeries.Quantile(times, 0.99) * 1e3,
            bound * 1e3, modelSe * 1e3, method, mean / bound, draws * 1e3, mean / draws,
            double.IsNaN(target) ? null : r.Steps.TimeToLoss(target),
            res.TestAccuracy,
            res.WorkerReports.Sum(w => w.BytesPushed), res.PushesDroppedLate, res.WorkerReports.Sum(w => w.StepsAbandoned),
            r.ComputePerPartition * 1e6, overhead * 1e3, res.WallSeconds, res.Device);
    }

    private static (double Loss, string Source) Target(StragglerBenchmarkOptions o, IReadOnlyList<StragglerRun> runs)
    {
        if (o.TargetLoss is double fixedLoss)
            return (fixedLoss, $"fixed at {fixedLoss:G4} (--target-loss)");
        var bsp = runs.FirstOrDefault(r => r.Scheme == StragglerScheme.Bsp && r.Model.Model is NoStragglers);
        if (bsp is null)
            return (double.NaN, "none: the grid has no BSP run without delays to derive it from (give --target-loss)");
        double final = bsp.Steps.FinalLoss();
        return (o.TargetFactor * final, $"{o.TargetFactor:G3} × the final training loss of BSP without delays (mean of its last 5 steps, {final:G4}) = {o.TargetFactor * final:G4}");
    }
}
