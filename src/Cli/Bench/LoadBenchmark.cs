using System.Diagnostics;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Bench;

/// <summary>One figure of the load run.</summary>
/// <param name="Measure">What is measured.</param>
/// <param name="Value">Its value, in <paramref name="Unit"/>.</param>
public sealed record LoadBenchmarkResult(string Measure, double Value, string Unit);

/// <summary>
/// Many workers against one server: a <c>gpups server</c> process (ASP, so every push is an update) and
/// <c>workers</c> concurrent clients in this process, each pushing deterministic gradients (value w % 4 + 1 over one row)
/// for <c>steps</c> steps, one push in flight per client. Reports push latency (mean, p50, p99, max, over every push),
/// throughput, and the exactness check: the final parameters against the initial ones minus the exact sum of the updates
/// (a lost update moves a parameter by 2^-10, ten times the tolerance; an update applied twice as much).
/// </summary>
public static class LoadBenchmark
{
    private const float LearningRate = 1f / 1024;

    /// <summary>Runs the load; <paramref name="progress"/> gets a line per phase.</summary>
    public static async Task<IReadOnlyList<LoadBenchmarkResult>> RunAsync(int workers, int steps, int parameters, ILogger log, Action<string> progress, CancellationToken ct)
    {
        if (workers < 1 || steps < 1 || parameters < 2) throw new ArgumentException("workers and steps must be at least 1, parameters at least 2");
        var settings = new TrainSettings
        {
            Dataset = $"synthetic:rows={Math.Max(workers * 2, 20)},features={parameters - 1},classes=2", Model = Kernels.ModelKind.Logistic,
            Workers = workers, Mode = SyncMode.Asp, Steps = steps, BatchSize = 1, Optimizer = OptimizerKind.Sgd, LearningRate = LearningRate,
            HeartbeatTimeoutMs = 600_000, StepTimeoutMs = 600_000,
        };
        var token = JobToken.Generate();
        var auth = JobAuth.WithToken(token);
        await using var server = ChildProcess.Start("server", ["server", "--urls", "http://127.0.0.1:0", "--keep-serving", .. JobOptions.ToArguments(settings)], token, log);
        string address = await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct);
        var initial = new float[parameters];
        await using (var observer = new GrpcShardClient(address, auth))
            await observer.PullAsync(-1, 0, initial, ct);
        progress($"server at {address}; {workers} workers x {steps} pushes of {parameters} floats ...");

        var latencies = new double[workers][];
        var refused = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
        {
            await using var client = new GrpcShardClient(address, auth);
            var joined = await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = w, ClientToken = $"load-{w}" }, ct);
            var gradient = Enumerable.Repeat((float)(w % 4 + 1), parameters).ToArray();
            latencies[w] = new double[steps];
            for (int t = 0; t < steps; t++)
            {
                long start = Stopwatch.GetTimestamp();
                var outcome = await client.PushAsync(new PushHeader(joined.WorkerId, t, 0, 1, 0.5), gradient, ct);
                latencies[w][t] = Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1000;
                if (!outcome.IsApplied) Interlocked.Increment(ref refused);
            }
        }));
        double seconds = watch.Elapsed.TotalSeconds;

        var final = new float[parameters];
        StatusReply status;
        await using (var observer = new GrpcShardClient(address, auth))
        {
            await observer.PullAsync(-1, 0, final, ct);
            status = await observer.StatusAsync(ct);
        }
        double perCoordinate = (double)LearningRate * steps * Enumerable.Range(0, workers).Sum(w => w % 4 + 1);
        double worst = Enumerable.Range(0, parameters).Max(i => Math.Abs(final[i] - (initial[i] - perCoordinate)));
        long pushes = (long)workers * steps;
        var sorted = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        progress($"{pushes} pushes in {seconds:F1} s; worst deviation from the exact sum {worst:G3}");
        return
        [
            new("push latency mean", sorted.Average(), "µs"),
            new("push latency p50", Percentile(0.50), "µs"),
            new("push latency p99", Percentile(0.99), "µs"),
            new("push latency max", sorted[^1], "µs"),
            new("pushes per second", pushes / seconds, "1/s"),
            new("payload throughput", pushes * (double)parameters * sizeof(float) / seconds / 1e6, "MB/s"),
            new("pushes applied", status.PushesApplied, "count"),
            new("pushes refused", refused, "count"),
            new("worst parameter off the exact sum", Math.Round(worst / LearningRate, 3), "updates (0: none lost, none twice)"),
        ];
    }
}
