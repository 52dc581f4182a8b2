using System.Diagnostics;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using Serilog;

namespace GpuPs.Cli.Bench;

/// <summary>One measured server-side cost of a step.</summary>
/// <param name="Scheme">Aggregation rule.</param>
/// <param name="ServerMsPerStep">Median CPU wall time the shard spends in the pushes of one step, decode and optimizer included.</param>
/// <param name="RatioToMemcpy">That time over a memcpy of every pushed byte of the step (same process, same run).</param>
/// <param name="StepMs">Mean step time of a real coded training run of the same model (0 where not run).</param>
/// <param name="ShareOfStep">ServerMsPerStep / StepMs.</param>
public sealed record AggregationBenchmarkResult(string Scheme, int Parameters, int Pushes, double ServerMsPerStep, double RatioToMemcpy, double StepMs, double ShareOfStep, string Note);

/// <summary>
/// What the server pays per step for aggregation of a 1M-parameter model: the pushes of one step fed straight to a
/// <see cref="ParameterShard"/> (no network, so only the server's own work is timed: copy or sum of each push, decode,
/// Σ a_i c_i, SGD), for BSP, backup, coded (fractional and cyclic) and multi-message with n = 8; then a real in-process
/// coded training run of a 1M-parameter MLP gives the step time that cost is a share of.
/// </summary>
public static class AggregationBenchmark
{
    public static async Task<IReadOnlyList<AggregationBenchmarkResult>> RunAsync(int repetitions, ILogger log, Action<string> progress, CancellationToken ct)
    {
        const int workers = 8, parameters = 1 << 20;
        var memcpyMs = MemcpyMs(parameters, workers);
        progress($"memcpy of {workers} x {parameters * 4 / 1e6:F1} MB: {memcpyMs:F2} ms");
        var rows = new List<AggregationBenchmarkResult>();
        foreach (var (name, mode, code, s) in new (string, SyncMode, string, int)[]
                 {
                     ("bsp", SyncMode.Bsp, "uncoded", 0), ("backup s=2", SyncMode.Backup, "uncoded", 2),
                     ("coded fractional s=1", SyncMode.Coded, "fractional", 1), ("coded cyclic s=2", SyncMode.Coded, "cyclic", 2),
                     ("coded cyclic s=3", SyncMode.Coded, "cyclic", 3), ("multi-message s=1", SyncMode.MultiMessage, "fractional", 1),
                 })
        {
            var (ms, pushes) = ServerMsPerStep(mode, code, workers, s, parameters, repetitions, log);
            progress($"{name}: {ms:F2} ms per step ({pushes} pushes)");
            rows.Add(new AggregationBenchmarkResult(name, parameters, pushes, ms, ms / (memcpyMs * pushes / workers), 0, 0, "server only, no network"));
        }

        progress("coded training run of a 1M-parameter MLP (8 workers, cyclic s = 2) for the step time …");
        var settings = new TrainSettings
        {
            Dataset = "synthetic:rows=4000,features=1000,classes=2,separation=2", Model = Kernels.ModelKind.Mlp, Hidden = 1000,
            Workers = workers, Mode = SyncMode.Coded, Code = "cyclic", Stragglers = 2, Steps = 12, BatchSize = 16,
            LearningRate = 0.05f, Accelerator = AcceleratorChoice.Simd,
        };
        var run = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, log, ct);
        double stepMs = run.StepSeconds.Skip(2).Average() * 1000;
        var coded = rows.Single(r => r.Scheme == "coded cyclic s=2");
        rows.Add(coded with
        {
            Scheme = "coded cyclic s=2 in training", Parameters = (int)run.ParameterCount, StepMs = stepMs, ShareOfStep = coded.ServerMsPerStep / stepMs,
            Note = $"step time of a real in-process run, {run.Steps} steps, mean of steps 3..{run.Steps}",
        });
        return rows;
    }

    /// <summary>Median time of the shard's work for one step: every push of the step, the decode and the update.</summary>
    private static (double Ms, int Pushes) ServerMsPerStep(SyncMode mode, string codeName, int workers, int stragglers, int length, int repetitions, ILogger log)
    {
        var job = new TrainingJob
        {
            Model = new ModelShape(Kernels.ModelKind.Logistic, length - 1, 2), Mode = SyncModes.Of(mode), Code = codeName,
            Stragglers = stragglers, Workers = workers, Steps = repetitions + 1, Seed = 1, Dataset = "synthetic",
            HeartbeatTimeoutMs = 600_000, StepTimeoutMs = 600_000,
        };
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Length = length },
            new OptimizerSettings(OptimizerKind.Sgd, 0.01f), new float[length]), backend, log);
        for (int i = 0; i < workers; i++) shard.Register(new RegisterRequest { RequestedWorkerId = i });
        // Each worker pushes what its mode's push policy makes of its partitions (one coded vector, one message per
        // partition, or one plain sum); a small data set stands in, since only the headers come from it.
        var rules = job.Mode;
        var assignment = rules.Assignment(job);
        var rows = SyntheticDataset.GaussianMixture(rows: 4 * workers, features: 1, classes: 2, seed: 1);
        var policies = Enumerable.Range(0, workers).Select(w => rules.CreatePushPolicy(new PartitionPlan(rows, assignment, w, batchSize: 0), w)).ToArray();
        var random = new Random(7);
        var vectors = Enumerable.Range(0, workers).Select(_ => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        var times = new List<double>();
        int pushes = 0;
        for (int step = 0; step <= repetitions; step++)
        {
            // Stragglers are the last s workers in a rotating order, so every responder set is exercised.
            var order = Enumerable.Range(0, workers).Select(i => (i + step) % workers).ToArray();
            var watch = Stopwatch.StartNew();
            pushes = 0;
            bool closed = false;
            foreach (int w in order)
            {
                var policy = policies[w];
                var messages = policy.PushesEachPartition
                    ? Enumerable.Range(0, assignment.PartitionsOf(w).Count).Select(h => policy.Header(step, h, 1))
                    : [policy.Header(step, null, 1)];
                foreach (var header in messages)
                {
                    pushes++;
                    if (closed = shard.Push(header, vectors[w]).ClosedStep) break;
                }
                if (closed) break;
            }
            if (step > 0) times.Add(watch.Elapsed.TotalMilliseconds);   // step 0 warms up the JIT
        }
        times.Sort();
        return (times[times.Count / 2], pushes);
    }

    private static double MemcpyMs(int length, int copies)
    {
        var source = new float[length];
        var destination = new float[length];
        var times = new List<double>();
        for (int r = 0; r < 9; r++)
        {
            var watch = Stopwatch.StartNew();
            for (int c = 0; c < copies; c++) source.AsSpan().CopyTo(destination);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
