using System.Globalization;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Cli.Bench;

/// <summary>What <c>gpups bench hetero</c> runs.</summary>
/// <param name="Factors">Per worker, how many times it computes every gradient: speeds 1/factor (default 4+2+1, speeds 1 : 2 : 4).</param>
/// <param name="Steps">Steps per run.</param>
/// <param name="Warmup">Steps left out of the means (start-up, the first assignment's probe).</param>
/// <param name="StragglerDelay">Seconds the s = 1 straggler (the fastest worker) is late every step in the runs with a straggler on top.</param>
/// <param name="DropAt">Step at which worker 0 of an equal-speed cluster drops to 1/<paramref name="DropFactor"/> of its speed.</param>
/// <param name="DropFactor">That slowdown.</param>
/// <param name="Dataset">The data set trained on; compute should dominate a step.</param>
/// <param name="Seed">Seeds data and models.</param>
public sealed record HeteroBenchmarkOptions(
    int[] Factors, int Steps = 40, int Warmup = 10, double StragglerDelay = 0.3, int DropAt = 20, int DropFactor = 4,
    string Dataset = "synthetic:rows=20000,features=100,classes=2", ulong Seed = 7);

/// <summary>One run of the benchmark, as the CSV has it.</summary>
/// <param name="Scenario">Short name: the speeds, the scheme, and what is on top.</param>
/// <param name="Mode">bsp or coded.</param>
/// <param name="Assignment">uniform or proportional.</param>
/// <param name="S">Stragglers the code tolerates.</param>
/// <param name="Slowdown">The straggler-model spec that slowed the workers (real kernel repeats).</param>
/// <param name="MeanMs">Mean step time after the warm-up (after the drop, for the drop runs), ms.</param>
/// <param name="P50Ms">Median step time, ms.</param>
/// <param name="P99Ms">99th percentile step time, ms.</param>
/// <param name="BoundMs">The ideal step time: total work / total throughput ((s + 1)× for a code), in units of the
/// equal-speed run's median step.</param>
/// <param name="RatioToBound">P50Ms / BoundMs: medians, because other processes on a shared machine put spikes in the means.</param>
/// <param name="SettledAfter">Drop runs: steps from the drop until three steps in a row are within 15% of the new bound (−1: never).</param>
/// <param name="ComputeBalance">Least over most kernel seconds of the workers over the whole run: 1 when every worker
/// computed equally long (a balanced assignment), 1/4 when one computed four times as long as another.</param>
public sealed record HeteroRow(string Scenario, string Mode, string Assignment, int S, string Slowdown, double MeanMs, double P50Ms, double P99Ms,
    double BoundMs, double RatioToBound, int SettledAfter, double ComputeBalance);

/// <summary>
/// <c>gpups bench hetero</c>: a cluster of mixed speeds made by real slowdowns (each worker repeats its gradient kernel,
/// the <c>slowdown</c> straggler model), trained with uniform and proportional BSP and with the heterogeneity-aware code,
/// with and without an s = 1 straggler on top, and an equal-speed cluster whose worker 0 drops to a quarter of its
/// speed mid-run. Every step time is compared with the ideal bound, total work / total throughput, whose unit — one
/// worker's throughput while all n compute at once on this machine — comes from an equal-speed run in the same
/// invocation.
/// </summary>
public static class HeteroBenchmark
{
    /// <summary>A run stays "settled" when its steps are within this factor of the bound.</summary>
    public const double SettledWithin = 1.15;

    private sealed record Run(string Scenario, SyncMode Mode, string Assignment, int S, string Slowdown, double BoundFactor, int From);

    /// <summary>Runs every scenario (in-process cluster over loopback gRPC, SIMD kernels) and returns one row each.</summary>
    public static async Task<IReadOnlyList<HeteroRow>> RunAsync(HeteroBenchmarkOptions o, Action<string> report, ILogger log, CancellationToken ct)
    {
        int n = o.Factors.Length;
        string factors = string.Join('+', o.Factors);
        string speeds = string.Join(":", o.Factors.Select(f => (o.Factors.Max() / (double)f).ToString("G3", CultureInfo.InvariantCulture)));
        int fastest = Array.IndexOf(o.Factors, o.Factors.Min());
        double ideal = n / o.Factors.Sum(f => 1.0 / f);   // in units of the equal-speed step time
        var dropped = Enumerable.Range(0, n).Select(i => i == 0 ? o.DropFactor : 1).ToArray();
        double idealAfterDrop = n / dropped.Sum(f => 1.0 / f);
        string late = $",late={fastest},delay={o.StragglerDelay.ToString("R", CultureInfo.InvariantCulture)}";
        string drop = $"slowdown:factors={string.Join('+', Enumerable.Repeat(1, n))},at={o.DropAt},then={string.Join('+', dropped)}";
        Run[] runs =
        [
            new("equal speeds, uniform bsp (unit)", SyncMode.Bsp, "uniform", 0, "none", 1, o.Warmup),
            new($"{speeds}, uniform bsp", SyncMode.Bsp, "uniform", 0, $"slowdown:factors={factors}", ideal, o.Warmup),
            new($"{speeds}, proportional bsp", SyncMode.Bsp, "proportional", 0, $"slowdown:factors={factors}", ideal, o.Warmup),
            new($"{speeds}, hetero code s=1", SyncMode.Coded, "proportional", 1, $"slowdown:factors={factors}", 2 * ideal, o.Warmup),
            new($"{speeds} + straggler, uniform bsp", SyncMode.Bsp, "uniform", 0, $"slowdown:factors={factors}{late}", ideal, o.Warmup),
            new($"{speeds} + straggler, proportional bsp", SyncMode.Bsp, "proportional", 0, $"slowdown:factors={factors}{late}", ideal, o.Warmup),
            new($"{speeds} + straggler, uniform code s=1", SyncMode.Coded, "uniform", 1, $"slowdown:factors={factors}{late}", 2 * ideal, o.Warmup),
            new($"{speeds} + straggler, hetero code s=1", SyncMode.Coded, "proportional", 1, $"slowdown:factors={factors}{late}", 2 * ideal, o.Warmup),
            new($"worker 0 drops to 1/{o.DropFactor}, uniform bsp", SyncMode.Bsp, "uniform", 0, drop, idealAfterDrop, o.DropAt),
            new($"worker 0 drops to 1/{o.DropFactor}, proportional bsp", SyncMode.Bsp, "proportional", 0, drop, idealAfterDrop, o.DropAt),
        ];
        var rows = new List<HeteroRow>();
        double unitMs = 0;
        // A first run, discarded, warms up the JIT, the thread pool and the loopback connections.
        await TrainingRun.RunAsync(Settings(o, runs[0]) with { Steps = o.Warmup }, NullTrainingProgress.Instance, log, ct).ConfigureAwait(false);
        foreach (var run in runs)
        {
            var result = await TrainingRun.RunAsync(Settings(o, run), NullTrainingProgress.Instance, log, ct).ConfigureAwait(false);
            var seconds = result.StepSeconds.Skip(run.From).ToArray();
            unitMs = unitMs == 0 ? StepSeries.Quantile(seconds.Order().ToArray(), 0.5) * 1e3 : unitMs;
            double bound = run.BoundFactor * unitMs;
            int settled = run.From > o.Warmup ? Settled(seconds, bound / 1e3) : 0;
            var measured = seconds.Skip(Math.Max(settled, 0)).Select(v => v * 1e3).Order().ToArray();
            double p50 = StepSeries.Quantile(measured, 0.5);
            var row = new HeteroRow(run.Scenario, run.Mode == SyncMode.Coded ? "coded" : "bsp", run.Assignment, run.S, run.Slowdown,
                measured.Average(), p50, StepSeries.Quantile(measured, 0.99), bound, p50 / bound, settled,
                result.WorkerReports.Min(w => w.ComputeSeconds) / result.WorkerReports.Max(w => w.ComputeSeconds));
            rows.Add(row);
            report(string.Create(CultureInfo.InvariantCulture,
                $"{row.Scenario,-44} mean {row.MeanMs,7:F1} ms  p50 {row.P50Ms,7:F1}  p99 {row.P99Ms,7:F1}  bound {row.BoundMs,7:F1}  p50 ×{row.RatioToBound:F2}  balance {row.ComputeBalance:F2}")
                + (run.From > o.Warmup ? $"  settled after {settled} steps" : ""));
        }
        return rows;
    }

    private static TrainSettings Settings(HeteroBenchmarkOptions o, Run run) => new()
    {
        Dataset = o.Dataset, Model = Kernels.ModelKind.Mlp, Hidden = 64, Workers = o.Factors.Length, Servers = 1, Mode = run.Mode, Stragglers = run.S,
        Steps = o.Steps + (run.From > o.Warmup ? run.From : o.Warmup), BatchSize = 0, LearningRate = 0.1f, Seed = o.Seed,
        Accelerator = AcceleratorChoice.Simd, StragglerModel = run.Slowdown, Assignment = run.Assignment, Output = "",
    };

    /// <summary>Steps until three in a row are within <see cref="SettledWithin"/> of <paramref name="bound"/>; −1 when never.</summary>
    public static int Settled(IReadOnlyList<double> seconds, double bound)
    {
        for (int i = 0; i + 2 < seconds.Count; i++)
            if (seconds.Skip(i).Take(3).All(v => v <= SettledWithin * bound)) return i;
        return -1;
    }
}
