using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Protocol;
using GpuPs.Worker;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Bench.Overhead;

/// <summary>Settings of <see cref="OverheadBenchmark.RunAsync"/>: issue 12's no-delay setup.</summary>
/// <param name="Modes">Modes measured, in order: <c>bsp</c>, <c>coded</c> (cyclic, s = 2), <c>asp</c>.</param>
/// <param name="Steps">Steps per mode (ASP: pushes per worker).</param>
/// <param name="Warmup">Leading steps left out of the statistics (JIT, connections, pools). 1000 by default, chosen when
/// gpups still ran with tiered compilation, which recompiled the step's code for hundreds of steps (steps 20..300 of BSP
/// took 4.1–6.0 ms of CPU each, steps 1500..3000 1.3–1.6 ms, on the shared 2-core machine); it now runs without it
/// (GpuPs.Cli.csproj), and the warm-up still covers connections and pools.</param>
/// <param name="Transport">How tensors travel.</param>
/// <param name="Processes">Each server and worker its own process (the workers' timelines come back in their report files).</param>
public sealed record OverheadBenchmarkOptions(IReadOnlyList<string> Modes, long Steps = 2000, int Warmup = 1000, TransportChoice Transport = TransportChoice.Tcp,
    bool Processes = false)
{
    /// <summary>8 workers, logistic regression on synthetic 5000 × 100, full batch, one shard, no injected delay, SIMD.</summary>
    public TrainSettings Settings(string mode) => new()
    {
        Dataset = "synthetic:rows=5000,features=100,classes=2",
        Model = GpuPs.Kernels.ModelKind.Logistic,
        Workers = 8,
        Servers = 1,
        Mode = Enum.Parse<SyncMode>(mode, ignoreCase: true),
        Stragglers = mode == "coded" ? 2 : 0,
        Code = mode == "coded" ? "cyclic" : "auto",
        BatchSize = 0,
        Steps = Steps,
        Accelerator = GpuPs.Kernels.AcceleratorChoice.Simd,
        Transport = Transport,
        Processes = Processes,
    };
}

/// <summary>
/// One mode's no-delay step and where it goes. Step times are the shard's own (open to close of each step; ASP, which
/// updates per push: rounds of n updates); the phases are means over every worker's measured steps
/// (<see cref="WorkerStepPhases"/>), the update the mean of the shard's closing-push time per update. The process's
/// <see cref="RuntimeCounters"/> per step, over the steps after the warm-up (embedded cluster only; NaN with processes):
/// CPU, voluntary and involuntary context switches, thread-pool work items, bytes allocated, contended lock entries.
/// </summary>
public sealed record OverheadRow(string Mode, string Transport, int StepsMeasured, double StepMeanMs, double StepP50Ms, double StepP99Ms,
    double ComputeMs, double EncodeMs, double PushMs, double PullMs, double ShardUpdateMs,
    double CpuMsPerStep, double VoluntarySwitchesPerStep, double InvoluntarySwitchesPerStep, double PoolItemsPerStep, double AllocatedBytesPerStep,
    double LockContentionsPerStep);

/// <summary>One row of the per-step timeline CSV: a worker's phases of a step, or (worker −1) the shard's step and update.</summary>
public sealed record OverheadTimelineRow(string Mode, int Worker, long Step, double PullMs, double ComputeMs, double EncodeMs, double PushMs,
    double ShardStepMs, double ShardUpdateMs);

/// <summary>
/// <c>gpups bench overhead</c>: the fixed per-step cost of each mode with no injected delay, on the embedded cluster (or
/// <c>--processes</c>), with its per-step timeline from the workers (pull, compute, encode, push) and the shard (step,
/// update). What a step costs beyond the gradient work is what this finds.
/// </summary>
public static class OverheadBenchmark
{
    /// <summary>Runs every mode of <paramref name="o"/> in turn; returns the summary rows and the whole timeline.</summary>
    public static async Task<(IReadOnlyList<OverheadRow> Rows, IReadOnlyList<OverheadTimelineRow> Timeline)> RunAsync(OverheadBenchmarkOptions o, ILogger log,
        Action<string>? progress, CancellationToken ct)
    {
        var rows = new List<OverheadRow>();
        var timeline = new List<OverheadTimelineRow>();
        foreach (var mode in o.Modes)
        {
            progress?.Invoke($"overhead: {mode} over {o.Transport}, {o.Steps} steps ...");
            var settings = o.Settings(mode);
            var job = JobFactory.CreateJob(settings);
            await using var cluster = await EmbeddedCluster.StartAsync(settings, job, log, ct).ConfigureAwait(false);
            await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
            int updatesPerStep = job.Mode.IsStepSynchronous ? 1 : job.Workers;
            var running = cluster.RunWorkersAsync(ct);
            // The counters' window opens when the shard passes the warm-up (an observer's pull waits for that step).
            await observer.PullAsync(GpuPs.Server.ParameterShard.ObserverId, o.Warmup * updatesPerStep, new float[job.ParameterCount], ct,
                TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var before = RuntimeCounters.Read();
            var reports = await running.ConfigureAwait(false);
            var after = RuntimeCounters.Read();
            var status = await observer.StatusAsync(ct, TimeSpan.FromSeconds(10)).ConfigureAwait(false);

            var phases = reports.SelectMany(r => r.StepPhases.Where(p => p.Step >= o.Warmup).Select(p => (r.WorkerId, p))).ToList();
            var shardSteps = status.StepSeconds.Zip(status.StepUpdateSeconds).Skip(o.Warmup * updatesPerStep).ToList();
            // An ASP shard updates once per push: its updates in rounds of n carry as many gradients as a synchronous step (as StepSeries).
            var stepMs = shardSteps.Chunk(updatesPerStep).Where(round => round.Length == updatesPerStep)
                .Select(round => round.Sum(s => s.First) * 1e3).Order().ToList();
            if (stepMs.Count == 0) throw new InvalidOperationException($"{mode}: no step past the {o.Warmup} warm-up steps was measured; run more --steps");
            var counters = o.Processes ? RuntimeCounters.None : RuntimeCounters.PerStep(before, after, stepMs.Count);
            rows.Add(new OverheadRow(mode, o.Transport.ToString().ToLowerInvariant(), stepMs.Count, stepMs.Average(), Percentile(stepMs, 0.50), Percentile(stepMs, 0.99),
                Mean(phases, p => p.ComputeSeconds), Mean(phases, p => p.EncodeSeconds), Mean(phases, p => p.PushSeconds), Mean(phases, p => p.PullSeconds),
                shardSteps.Count == 0 ? 0 : shardSteps.Average(s => s.Second) * 1e3,
                counters.CpuMs, counters.VoluntarySwitches, counters.InvoluntarySwitches, counters.ThreadPoolItems, counters.AllocatedBytes, counters.LockContentions));
            progress?.Invoke($"overhead: {mode}: step mean {rows[^1].StepMeanMs:F3} ms, p99 {rows[^1].StepP99Ms:F3} ms; per step: CPU {counters.CpuMs:F2} ms, " +
                $"{counters.VoluntarySwitches:F1} + {counters.InvoluntarySwitches:F1} context switches, {counters.ThreadPoolItems:F1} pool items, {counters.AllocatedBytes:F0} B allocated, {counters.LockContentions:F2} lock contentions");
            timeline.AddRange(phases.Select(x => new OverheadTimelineRow(mode, x.WorkerId, x.p.Step, x.p.PullSeconds * 1e3, x.p.ComputeSeconds * 1e3,
                x.p.EncodeSeconds * 1e3, x.p.PushSeconds * 1e3, double.NaN, double.NaN)));
            timeline.AddRange(status.StepSeconds.Zip(status.StepUpdateSeconds).Select((s, i) =>
                new OverheadTimelineRow(mode, -1, i, double.NaN, double.NaN, double.NaN, double.NaN, s.First * 1e3, s.Second * 1e3)));
        }
        return (rows, timeline);
    }

    private static double Mean(List<(int WorkerId, WorkerStepPhases p)> phases, Func<WorkerStepPhases, double> seconds) =>
        phases.Count == 0 ? double.NaN : phases.Average(x => seconds(x.p)) * 1e3;

    /// <summary>The nearest-rank percentile of sorted <paramref name="sorted"/>.</summary>
    private static double Percentile(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
