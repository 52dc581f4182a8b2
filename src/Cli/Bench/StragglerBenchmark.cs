using System.Diagnostics;
using System.Globalization;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Worker.Stragglers;
using Serilog;

namespace GpuPs.Cli.Bench;

/// <summary>
/// <c>gpups bench stragglers</c>: one real training run (embedded cluster, loopback gRPC, SIMD workers unless
/// <see cref="StragglerBenchmarkOptions.Accelerator"/> says otherwise) per
/// (scheme, s, delay model), measuring shard 0's step times and training loss against the time model's expected step
/// time (<see cref="StepTimeBound"/>). Logistic regression on a small synthetic set keeps the real compute tiny, so the
/// injected delays and the simulated per-partition compute dominate, as they would with a large model on real devices.
/// </summary>
public static class StragglerBenchmark
{
    /// <summary>Start-up, evaluation and teardown of one run, measured at ~1.5 s on 2 cores; used only for estimates.</summary>
    private const double RunOverheadSeconds = 1.5;

    /// <summary>Per-step communication guess for estimates (loopback gRPC and scheduling, measured ~5 ms here).</summary>
    private const double StepOverheadSeconds = 0.005;

    private const int WarmupRunSteps = 40;

    private sealed record PlannedRun(StragglerScheme Scheme, int S, string Delay, StragglerInjector Model, double EstimatedSeconds);

    /// <summary>Runs the grid of <paramref name="options"/>; <paramref name="report"/> gets the plan, the skipped
    /// combinations and one line per finished run with an ETA.</summary>
    public static async Task<StragglerBenchmarkResult> RunAsync(StragglerBenchmarkOptions options, Action<string> report, ILogger log, CancellationToken ct)
    {
        options.Validate();
        var (plan, skipped) = Plan(options);
        foreach (var line in skipped) report($"skipped: {line}");
        double estimate = plan.Sum(p => p.EstimatedSeconds);
        report($"{plan.Count} runs × {options.Steps} steps, {options.Workers} workers on {options.Accelerator}, unit {options.UnitSeconds * 1e3:G4} ms per partition; "
               + $"estimated total {Duration(estimate)} (time model + {RunOverheadSeconds} s start-up per run)");

        // JIT-compile every scheme's code paths before anything is measured: the first runs of a process would otherwise
        // carry compilation (and the tier-0 code that precedes re-compilation) in their steps, and the no-delay runs
        // calibrate every scheme's overhead. Without delays and unit the warm-up steps take a few milliseconds each.
        report($"warm-up: a {WarmupRunSteps}-step run per scheme without delays or unit, not measured");
        foreach (var p in plan.DistinctBy(p => p.Scheme))
            await TrainingRun.RunAsync(Settings(options, p) with { Steps = WarmupRunSteps, StragglerModel = "none" }, Silent.Instance, log, ct).ConfigureAwait(false);

        var runs = new List<StragglerRun>(plan.Count);
        var watch = Stopwatch.StartNew();
        double estimatedDone = 0;
        foreach (var p in plan)
        {
            var result = await TrainingRun.RunAsync(Settings(options, p), Silent.Instance, log, ct).ConfigureAwait(false);
            var run = new StragglerRun(p.Scheme, p.S, p.Delay, p.Model, StepSeries.From(result, p.Scheme.IsAsynchronous ? options.Workers : 1), result);
            runs.Add(run);
            estimatedDone += p.EstimatedSeconds;
            // The estimate's error so far scales what is left: the machine's load shows in both.
            double eta = (estimate - estimatedDone) * watch.Elapsed.TotalSeconds / estimatedDone;
            var times = run.Steps.SortedTimes(options.WarmupSteps);
            report(string.Create(CultureInfo.InvariantCulture,
                $"[{runs.Count,3}/{plan.Count}] {p.Scheme.Name,-16} s={p.S} {p.Delay,-40} mean {times.Average() * 1e3,7:F1} ms  p99 {StepSeries.Quantile(times, 0.99) * 1e3,7:F1} ms  "
                + $"({result.WallSeconds:F1} s)  ETA {Duration(eta)}"));
        }
        return StragglerBenchmarkResult.From(options, runs, skipped);
    }

    /// <summary>Delays outer, so every scheme's no-delay run (its overhead calibration) comes first; schemes and s inner.</summary>
    private static (List<PlannedRun> Plan, List<string> Skipped) Plan(StragglerBenchmarkOptions o)
    {
        var plan = new List<PlannedRun>();
        var skipped = new List<string>();
        var delays = o.Delays.Select(d => StragglerInjector.Parse(d, o.Workers, o.Seed).Spec).Distinct()
            .OrderBy(d => d == "none" ? 0 : 1).ToList();
        foreach (var delay in delays)
        {
            var model = StragglerInjector.Parse(WithUnit(delay, o.UnitSeconds), o.Workers, o.Seed);
            foreach (var scheme in o.Schemes.Distinct())
            {
                foreach (int s in scheme.IgnoresStragglers ? [0] : o.Stragglers.Distinct().Order().ToArray())
                {
                    if (!scheme.IgnoresStragglers && scheme.Skip(o.Workers, s) is string why)
                    {
                        // Said once per (scheme, s), not once per delay model.
                        if (delay == delays[0]) skipped.Add($"{scheme.Name} s={s}: {why}");
                        continue;
                    }
                    double step = StepTimeBound.Expected(scheme, o.Workers, s, model, computePerPartition: 0).Seconds + StepOverheadSeconds;
                    plan.Add(new PlannedRun(scheme, s, delay, model, RunOverheadSeconds + o.Steps * step));
                }
            }
        }
        return (plan, skipped);
    }

    /// <summary><paramref name="spec"/> (without a unit) with <c>unit=</c><paramref name="unit"/> added.</summary>
    internal static string WithUnit(string spec, double unit) =>
        string.Create(CultureInfo.InvariantCulture, $"{spec}{(spec.Contains(':') ? ',' : ':')}unit={unit:R}");

    private static TrainSettings Settings(StragglerBenchmarkOptions o, PlannedRun p) => new()
    {
        Dataset = o.Dataset,
        Model = Kernels.ModelKind.Logistic,
        Workers = o.Workers,
        Servers = 1,
        Mode = p.Scheme.Mode.Mode,
        Code = p.Scheme.Code,
        Stragglers = p.S,
        StragglerModel = p.Model.Spec,
        Steps = o.Steps,
        BatchSize = o.BatchSize,
        Seed = o.Seed,
        Accelerator = o.Accelerator,
        Transport = o.Transport,
    };

    private static string Duration(double seconds) =>
        seconds >= 60 ? $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s" : $"{seconds:F0}s";

    /// <summary>The benchmark reports per run, not per step.</summary>
    private sealed class Silent : ITrainingProgress
    {
        public static Silent Instance { get; } = new();
        public void Started(long totalSteps, string description) { }
        public void Advanced(long step) { }
        public void Evaluated(EpochRecord record) { }
    }
}
