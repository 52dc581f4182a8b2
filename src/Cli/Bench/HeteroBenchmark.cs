using GpuPs.Core.Coding;
using System.Globalization;
using GpuPs.Cli.Bench.Hetero;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Cli.Bench;

/// <summary>How <c>gpups bench hetero</c> makes workers slower than others.</summary>
public enum HeteroSlowdown
{
    /// <summary>Each worker and the server in their own CPU-quota cgroup, quotas in proportion to the speeds (root, Linux).</summary>
    Cgroup,

    /// <summary>Every worker in this process; worker i computes each gradient factor[i] times (the <c>slowdown</c> straggler model).</summary>
    Throttle,
}

/// <summary>What <c>gpups bench hetero</c> runs.</summary>
/// <param name="Factors">Per worker, the inverse of its speed (default 4+2+1, speeds 1 : 2 : 4).</param>
/// <param name="Steps">Steps per run.</param>
/// <param name="Warmup">Steps left out of the means (start-up, the first assignment's probe).</param>
/// <param name="StragglerDelay">Seconds the s = 1 straggler (the fastest worker) is late every step in the runs with a straggler on top.</param>
/// <param name="DropAt">Step at which worker 0 of an equal-speed cluster drops to 1/<paramref name="DropFactor"/> of its speed.</param>
/// <param name="DropFactor">That slowdown.</param>
/// <param name="Dataset">The data set trained on; compute should dominate a step. Null: see <see cref="DatasetOrDefault"/>.</param>
/// <param name="Seed">Seeds data and models.</param>
/// <param name="Slowdown">How the speeds are made; <see cref="HeteroSlowdown.Cgroup"/> falls back to
/// <see cref="HeteroSlowdown.Throttle"/> (the reason logged) where CPU-quota groups cannot be made.</param>
/// <param name="WorkerCores">Cgroup slowdown: the CPUs all workers' quotas sum to (worker i gets its speed's share); 0:
/// 90 % of the cores less the server's.</param>
/// <param name="ServerCores">Cgroup slowdown: the server process's quota, in CPUs.</param>
/// <param name="Scenarios">Keys of the scenarios to run (<see cref="HeteroBenchmark.ScenarioKeys"/>; null: all); the
/// equal-speed unit run always runs first, since every bound is in its units.</param>
public sealed record HeteroBenchmarkOptions(
    int[] Factors, int Steps = 40, int Warmup = 10, double StragglerDelay = 0.3, int DropAt = 20, int DropFactor = 4,
    string? Dataset = null, ulong Seed = 7,
    HeteroSlowdown Slowdown = HeteroSlowdown.Cgroup, double WorkerCores = 0, double ServerCores = 0.3, IReadOnlyList<string>? Scenarios = null)
{
    /// <summary>
    /// <see cref="Dataset"/>, or by default 20 000 rows for the throttle slowdown and 300 000 for cgroups: there a step's
    /// pull, push and aggregation do not shrink with the quotas, and uniform reaches 2× proportional (of 2.33× for
    /// 1 : 2 : 4) only where they are well under a third of the compute (at 300 000 rows: unit step ~0.48 s, uniform 2.28×).
    /// </summary>
    public string DatasetOrDefault => Dataset ?? $"synthetic:rows={(Slowdown == HeteroSlowdown.Cgroup ? 300_000 : 20_000)},features=100,classes=2";

    /// <summary>
    /// The workers' devices (<c>--accelerator</c>): one for all, or one per worker (<c>cuda+simd+simd</c>); SIMD by
    /// default. Every scenario, the unit run too, runs on them, so the bounds assume the slowdowns alone set the speeds:
    /// with devices of different speeds the mixed runs' bounds are not ideal, but uniform against proportional still compares.
    /// </summary>
    public WorkerAccelerators Accelerator { get; init; } = AcceleratorChoice.Simd;

    /// <summary>
    /// Where the synchronous runs' step anatomy goes (<see cref="StepAnatomy"/>: per step and worker, inbound, compute,
    /// device, push and wait ms); null: not written (the per-worker means are reported either way).
    /// </summary>
    public string? AnatomyCsv { get; init; }

    /// <summary>The CPUs the workers' quotas sum to: <see cref="WorkerCores"/>, or 90 % of the cores less the server's.</summary>
    public double WorkerCoresOrDefault => WorkerCores > 0 ? WorkerCores : 0.9 * Environment.ProcessorCount - ServerCores;
}

/// <summary>One run of the benchmark, as the CSV has it.</summary>
/// <param name="Scenario">Short name: the speeds, the scheme, and what is on top.</param>
/// <param name="Mode">bsp or coded.</param>
/// <param name="Assignment">uniform or proportional.</param>
/// <param name="S">Stragglers the code tolerates.</param>
/// <param name="Slowdown">What slowed the workers: their CPU quotas (cgroup slowdown) and the straggler-model spec (real
/// kernel repeats, a late worker).</param>
/// <param name="MeanMs">Mean step time after the warm-up (after the drop, for the drop runs), ms.</param>
/// <param name="P50Ms">Median step time, ms.</param>
/// <param name="P99Ms">99th percentile step time, ms.</param>
/// <param name="BoundMs">The ideal step time: total work / total throughput, and for a code the least step of any code that
/// tolerates one straggler (every row on two distinct workers, none holding more than all of it:
/// <see cref="OptimalHeterogeneousCode.TimeBound"/>), in units of the equal-speed run's median step.</param>
/// <param name="RatioToBound">P50Ms / BoundMs: medians, because other processes on a shared machine put spikes in the means.</param>
/// <param name="SettledAfter">Drop runs: steps from the drop until three steps in a row are within 15% of the new bound (−1: never).</param>
/// <param name="ComputeBalance">Least over most kernel seconds of the workers over the whole run: 1 when every worker
/// computed equally long (a balanced assignment), 1/4 when one computed four times as long as another (worker
/// processes, cgroup slowdown: from the reports they hand back); NaN when no worker reported.</param>
/// <param name="MeanRatioToBound">MeanMs / BoundMs: the issue's targets are by the mean.</param>
/// <param name="Code">The gradient code the coded runs name (auto: the group code for proportional jobs).</param>
/// <param name="Devices">The workers' compute devices, as the training summary names them (<c>--accelerator</c>).</param>
/// <param name="MeanBoundMs">The bound in units of the equal-speed run's <em>mean</em> step: what a mean is compared with.
/// The unit run's own mean is 1.03-1.07× its median on this machine (steps wait for the slowest of n noisy computes, and
/// co-tenants add spikes), so a mean over the median-based <see cref="BoundMs"/> counts that noise as distance to the bound.</param>
/// <param name="MeanRatioToMeanBound">MeanMs / MeanBoundMs.</param>
/// <param name="RebalancedAfter">Drop runs: the issue's literal "rebalanced after N steps", the first step computed with
/// an assignment version published after the drop less the drop's step (−1: none was; 0 in the other runs). The step it
/// names loads the moved rows, so <see cref="SettledAfter"/> is at least one more.</param>
public sealed record HeteroRow(string Scenario, string Mode, string Assignment, int S, string Slowdown, double MeanMs, double P50Ms, double P99Ms,
    double BoundMs, double RatioToBound, int SettledAfter, double ComputeBalance, double MeanRatioToBound, string Code, string Devices = "",
    double MeanBoundMs = 0, double MeanRatioToMeanBound = 0, int RebalancedAfter = 0);

/// <summary>
/// <c>gpups bench hetero</c>: a cluster of mixed speeds made by real slowdowns, trained with uniform and proportional BSP
/// and with the heterogeneity-aware code, with and without an s = 1 straggler on top, and an equal-speed cluster whose
/// worker 0 drops to a quarter of its speed mid-run. The speeds come from CPU quotas (<see cref="HeteroSlowdown.Cgroup"/>:
/// every worker and the server a process in its own cgroup, the workers' quotas in proportion to their speeds and
/// summing to a fixed number of CPUs below the core count, so the devices are independent) or from kernel repeats in one
/// process (<see cref="HeteroSlowdown.Throttle"/>). The drop is a kernel-repeat slowdown in both (on top of equal quotas
/// with cgroups). Every step time is compared with the ideal bound, total work / total throughput, whose unit T₁ — the
/// step of n equal workers — comes from an equal-speed run in the same invocation. With quotas the mixed cluster has the
/// unit run's total throughput, so its bound is T₁ itself; with repeats it is n · T₁ / Σ 1/factorᵢ.
/// </summary>
public static class HeteroBenchmark
{
    /// <summary>The scenarios' keys, in the order they run (<c>--scenarios</c>).</summary>
    public static IReadOnlyList<string> ScenarioKeys { get; } =
    [
        "unit", "uniform", "proportional", "proportional-all", "code", "optimal-code", "straggler-uniform", "straggler-proportional", "straggler-uniform-code",
        "straggler-code", "straggler-optimal-code", "drop-uniform", "drop-proportional",
    ];

    /// <summary>A run stays "settled" when its steps are within this factor of the bound.</summary>
    public const double SettledWithin = 1.15;

    private sealed record Run(string Key, string Scenario, SyncMode Mode, string Assignment, int S, string Slowdown, double BoundFactor, int From, double[] Speeds,
        string Code = "auto");

    /// <summary>Runs every scenario over loopback gRPC on the workers' devices (SIMD by default) and returns one row each.</summary>
    public static async Task<IReadOnlyList<HeteroRow>> RunAsync(HeteroBenchmarkOptions o, Action<string> report, ILogger log, CancellationToken ct)
    {
        int n = o.Factors.Length;
        o.Accelerator.Validate(n);
        if (o.Scenarios?.FirstOrDefault(k => !ScenarioKeys.Contains(k)) is { } unknown)
            throw new ArgumentException($"unknown scenario '{unknown}'; expected some of {string.Join(", ", ScenarioKeys)}");
        if (o.Slowdown == HeteroSlowdown.Cgroup && CpuQuotaGroups.Unavailable() is { } reason)
        {
            log.Warning("Cgroup slowdown unavailable ({Reason}); falling back to the throttle slowdown (kernel repeats)", reason);
            report($"cgroup slowdown unavailable ({reason}); using the throttle slowdown (kernel repeats)");
            o = o with { Slowdown = HeteroSlowdown.Throttle };
        }
        bool quotas = o.Slowdown == HeteroSlowdown.Cgroup;
        string factors = string.Join('+', o.Factors);
        double[] mix = o.Factors.Select(f => 1.0 / f).ToArray(), equal = Enumerable.Repeat(1.0, n).ToArray();
        string speeds = string.Join(":", o.Factors.Select(f => (o.Factors.Max() / (double)f).ToString("G3", CultureInfo.InvariantCulture)));
        int fastest = Array.IndexOf(o.Factors, o.Factors.Min());
        // Quotas keep the total throughput of the unit run; repeats lower it to Σ 1/factor of n.
        double ideal = quotas ? 1 : n / mix.Sum();
        // Any code that survives one straggler: every row on two distinct workers, none holding more than all of it
        // (OptimalHeterogeneousCode.TimeBound), in units of the unit run's step (n workers of speed 1 each).
        double coded = n * OptimalHeterogeneousCode.TimeBound(quotas ? mix.Select(v => n * v / mix.Sum()).ToArray() : mix, 1);
        var dropped = Enumerable.Range(0, n).Select(i => i == 0 ? o.DropFactor : 1).ToArray();
        double idealAfterDrop = n / dropped.Sum(f => 1.0 / f);
        string ones = string.Join('+', Enumerable.Repeat(1, n));
        string slow = quotas ? "none" : $"slowdown:factors={factors}";
        string late = $"slowdown:factors={(quotas ? ones : factors)},late={fastest},delay={o.StragglerDelay.ToString("R", CultureInfo.InvariantCulture)}";
        string drop = $"slowdown:factors={ones},at={o.DropAt},then={string.Join('+', dropped)}";
        Run[] runs =
        [
            new("unit", "equal speeds, uniform bsp (unit)", SyncMode.Bsp, "uniform", 0, "none", 1, o.Warmup, equal),
            new("uniform", $"{speeds}, uniform bsp", SyncMode.Bsp, "uniform", 0, slow, ideal, o.Warmup, mix),
            new("proportional", $"{speeds}, proportional bsp", SyncMode.Bsp, "proportional", 0, slow, ideal, o.Warmup, mix),
            new("proportional-all", $"{speeds}, proportional bsp, no zero shares", SyncMode.Bsp, "proportional-all", 0, slow, ideal, o.Warmup, mix),
            new("code", $"{speeds}, hetero code s=1", SyncMode.Coded, "proportional", 1, slow, coded, o.Warmup, mix),
            new("optimal-code", $"{speeds}, hetero-optimal code s=1", SyncMode.Coded, "proportional", 1, slow, coded, o.Warmup, mix, OptimalHeterogeneousCode.FamilyName),
            new("straggler-uniform", $"{speeds} + straggler, uniform bsp", SyncMode.Bsp, "uniform", 0, late, ideal, o.Warmup, mix),
            new("straggler-proportional", $"{speeds} + straggler, proportional bsp", SyncMode.Bsp, "proportional", 0, late, ideal, o.Warmup, mix),
            new("straggler-uniform-code", $"{speeds} + straggler, uniform code s=1", SyncMode.Coded, "uniform", 1, late, coded, o.Warmup, mix),
            new("straggler-code", $"{speeds} + straggler, hetero code s=1", SyncMode.Coded, "proportional", 1, late, coded, o.Warmup, mix),
            new("straggler-optimal-code", $"{speeds} + straggler, hetero-optimal code s=1", SyncMode.Coded, "proportional", 1, late, coded, o.Warmup, mix,
                OptimalHeterogeneousCode.FamilyName),
            new("drop-uniform", $"worker 0 drops to 1/{o.DropFactor}, uniform bsp", SyncMode.Bsp, "uniform", 0, drop, idealAfterDrop, o.DropAt, equal),
            new("drop-proportional", $"worker 0 drops to 1/{o.DropFactor}, proportional bsp", SyncMode.Bsp, "proportional", 0, drop, idealAfterDrop, o.DropAt, equal),
        ];
        var rows = new List<HeteroRow>();
        double unitMs = 0, unitMeanMs = 0;
        if (o.AnatomyCsv is { } anatomyCsv) File.Delete(anatomyCsv);
        // A first run, discarded, warms up the JIT, the thread pool and the loopback connections.
        await ExecuteAsync(o, runs[0], Settings(o, runs[0]) with { Steps = o.Warmup }, log, ct).ConfigureAwait(false);
        foreach (var run in runs.Where(r => r.Key == "unit" || o.Scenarios is null || o.Scenarios.Contains(r.Key)))
        {
            var (result, slowdown) = await ExecuteAsync(o, run, Settings(o, run), log, ct).ConfigureAwait(false);
            var seconds = result.StepSeconds.Skip(run.From).ToArray();
            unitMs = unitMs == 0 ? StepSeries.Quantile(seconds.Order().ToArray(), 0.5) * 1e3 : unitMs;
            unitMeanMs = unitMeanMs == 0 ? seconds.Average() * 1e3 : unitMeanMs;
            double bound = run.BoundFactor * unitMs, meanBound = run.BoundFactor * unitMeanMs;
            bool dropRun = run.From > o.Warmup;
            int settled = dropRun ? Settled(seconds, bound / 1e3) : 0;
            int rebalanced = dropRun ? Rebalanced(result.Assignment?.FromSteps ?? [], run.From) : 0;
            var measured = seconds.Skip(Math.Max(settled, 0)).Select(v => v * 1e3).Order().ToArray();
            double p50 = StepSeries.Quantile(measured, 0.5);
            var row = new HeteroRow(run.Scenario, run.Mode == SyncMode.Coded ? "coded" : "bsp", run.Assignment, run.S, slowdown,
                measured.Average(), p50, StepSeries.Quantile(measured, 0.99), bound, p50 / bound, settled,
                result.WorkerReports.Count == 0 ? double.NaN : result.WorkerReports.Min(w => w.ComputeSeconds) / result.WorkerReports.Max(w => w.ComputeSeconds),
                measured.Average() / bound, run.Code, result.Device, meanBound, measured.Average() / meanBound, rebalanced);
            rows.Add(row);
            report(string.Create(CultureInfo.InvariantCulture,
                $"{row.Scenario,-44} mean {row.MeanMs,7:F1} ms  p50 {row.P50Ms,7:F1}  p99 {row.P99Ms,7:F1}  bound {row.BoundMs,7:F1}  mean ×{row.MeanRatioToBound:F2} (×{row.MeanRatioToMeanBound:F2} of the mean bound)  p50 ×{row.RatioToBound:F2}  balance {row.ComputeBalance:F2}")
                + (dropRun ? $"  rebalanced after {rebalanced} steps, settled after {settled} steps" : "")
                + (result.Assignment is { } a ? $"  assignment v{a.Version}, shares {string.Join(":", a.Shares.Select(x => x.ToString("F3", CultureInfo.InvariantCulture)))}"
                    + (a.Idle.Count > 0 ? $", zero shares {string.Join(",", a.Idle)}" : "") : "")
                + $"  slowest: {string.Join(", ", Slowest(seconds, run.From))}");
            if (dropRun) report(DropTimeline(result, run.From, settled, bound));
            if (run.Mode != SyncMode.Bsp) continue;
            var anatomy = StepAnatomy.Of(result.WorkerSteps, run.From + Math.Max(settled, 0));
            foreach (var line in StepAnatomy.Summary(anatomy)) report(line);
            if (o.AnatomyCsv is { } path) StepAnatomy.Append(path, run.Scenario, anatomy);
        }
        return rows;
    }

    /// <summary>
    /// Worker i's CPU quota in a cgroup run: its share of <see cref="HeteroBenchmarkOptions.WorkerCoresOrDefault"/> by
    /// <paramref name="speeds"/>; the server gets <see cref="HeteroBenchmarkOptions.ServerCores"/>.
    /// </summary>
    public static Dictionary<(ClusterRole Role, int Index), double> Quotas(HeteroBenchmarkOptions o, IReadOnlyList<double> speeds)
    {
        var cores = new Dictionary<(ClusterRole, int), double> { [(ClusterRole.Server, 0)] = o.ServerCores };
        for (int i = 0; i < speeds.Count; i++) cores[(ClusterRole.Worker, i)] = o.WorkerCoresOrDefault * speeds[i] / speeds.Sum();
        return cores;
    }

    private static async Task<(TrainResult Result, string Slowdown)> ExecuteAsync(HeteroBenchmarkOptions o, Run run, TrainSettings settings, ILogger log, CancellationToken ct)
    {
        if (o.Slowdown == HeteroSlowdown.Throttle)
            return (await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, log, ct).ConfigureAwait(false), run.Slowdown);
        var quotas = Quotas(o, run.Speeds);
        using var groups = CpuQuotaGroups.Create(quotas, log);
        var result = await TrainingRun.RunAsync(settings with { Processes = true }, NullTrainingProgress.Instance, log, ct, groups).ConfigureAwait(false);
        string cores = string.Join('+', Enumerable.Range(0, run.Speeds.Length).Select(i => quotas[(ClusterRole.Worker, i)].ToString("G3", CultureInfo.InvariantCulture)));
        return (result, $"cgroup cpu {cores} (server {o.ServerCores.ToString("G3", CultureInfo.InvariantCulture)}); {run.Slowdown}");
    }

    private static TrainSettings Settings(HeteroBenchmarkOptions o, Run run) => new()
    {
        Dataset = o.DatasetOrDefault, Model = Kernels.ModelKind.Mlp, Hidden = 64, Workers = o.Factors.Length, Servers = 1, Mode = run.Mode, Stragglers = run.S,
        Steps = o.Steps + (run.From > o.Warmup ? run.From : o.Warmup), BatchSize = 0, LearningRate = 0.1f, Seed = o.Seed,
        Accelerator = o.Accelerator, StragglerModel = run.Slowdown, Assignment = run.Assignment, Code = run.Code, Output = "",
    };

    /// <summary>The three slowest measured steps as "step (ms)", so a tail can be matched with the logs' step numbers.</summary>
    private static IEnumerable<string> Slowest(double[] seconds, int from) =>
        seconds.Select((v, i) => (Step: from + i, Ms: v * 1e3)).OrderByDescending(x => x.Ms).Take(3)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Step} ({x.Ms:F0})"));

    /// <summary>
    /// The first step computed with a version published after <paramref name="dropAt"/> (its first slow step), less
    /// <paramref name="dropAt"/>; −1 when no version was. A version from <paramref name="dropAt"/> itself was published
    /// before any slow step closed.
    /// </summary>
    public static int Rebalanced(IReadOnlyList<long> fromSteps, int dropAt) =>
        fromSteps.FirstOrDefault(s => s > dropAt) is var first and > 0 ? (int)(first - dropAt) : -1;

    /// <summary>
    /// Where a drop run's steps went, one line: from the step before the drop until three steps past the settled one,
    /// each step's ms and worker 0's kernel ms (its report reaches the coordinator with its next step), and every
    /// version's first step — the drop, the slow reports, the publish and the reload can be read off it.
    /// </summary>
    private static string DropTimeline(TrainResult result, int dropAt, int settled, double boundMs)
    {
        int to = dropAt + (settled < 0 ? result.StepSeconds.Count : settled + 3);
        var compute = result.WorkerSteps.TryGetValue(0, out var phases) ? phases.ToDictionary(p => p.Step, p => p.ComputeSeconds * 1e3) : [];
        var steps = Enumerable.Range(dropAt - 1, Math.Max(0, Math.Min(to, result.StepSeconds.Count) - dropAt + 1)).Select(k =>
            string.Create(CultureInfo.InvariantCulture, $"{k}:{result.StepSeconds[k] * 1e3:F0}")
            + (compute.TryGetValue(k, out double ms) ? string.Create(CultureInfo.InvariantCulture, $"({ms:F0})") : "")
            + (result.StepSeconds[k] * 1e3 <= SettledWithin * boundMs ? "" : "*"));
        return $"  drop timeline, step:ms(worker 0 kernel ms), * above {SettledWithin}× the bound: {string.Join(' ', steps)}; versions from steps "
            + string.Join(", ", result.Assignment?.FromSteps ?? []);
    }

    /// <summary>Steps until three in a row are within <see cref="SettledWithin"/> of <paramref name="bound"/>; −1 when never.</summary>
    public static int Settled(IReadOnlyList<double> seconds, double bound)
    {
        for (int i = 0; i + 2 < seconds.Count; i++)
            if (seconds.Skip(i).Take(3).All(v => v <= SettledWithin * bound)) return i;
        return -1;
    }
}
