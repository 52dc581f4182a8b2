using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics.Tensors;
using GpuPs.Core.Security;
using GpuPs.Core.Tensors;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog.Core;

namespace GpuPs.Benchmarks.Wire;

/// <summary>Settings of <see cref="WireBenchmark.RunAsync"/>.</summary>
public sealed record WireBenchmarkOptions
{
    /// <summary>Elements of the float32 tensor moved per operation (default 1M floats = 4 MiB).</summary>
    public int TensorFloats { get; init; } = 1 << 20;

    /// <summary>Untimed run before each measurement (JIT, connection set-up, pool warm-up).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Timed run of each measurement, in 250 ms windows of which the best counts; five measurements make a default run of about 20 s.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(3);

    public ShardClientOptions Client { get; init; } = new();
}

/// <summary>
/// One measured throughput: 10^6 bytes of tensor payload per second in the best 250 ms window; ratios are to the memcpy and raw
/// TCP rows; the note ends with the process CPU time spent per GB moved.
/// </summary>
public sealed record WireBenchmarkResult(string Name, double MegabytesPerSecond, double RatioToMemcpy, double RatioToRawTcp, string Note);

/// <summary>
/// Measures how close the gRPC data plane gets to the machine's limits for one tensor: in-process memcpy, raw TCP loopback with
/// length-prefixed frames, gRPC push and pull through <see cref="GrpcShardClient"/>, and the server's aggregation kernel
/// (<see cref="ParallelTensor.Add"/>) against memcpy of the same bytes.
/// One operation is in flight at a time, as in a worker's step.
/// </summary>
public static class WireBenchmark
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs every measurement in turn (about 20 s with default options); <paramref name="progress"/> gets one line per step.</summary>
    public static async Task<IReadOnlyList<WireBenchmarkResult>> RunAsync(WireBenchmarkOptions o, Action<string>? progress, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(o.TensorFloats, 1);
        var bytes = (long)o.TensorFloats * sizeof(float);
        var tensor = new float[o.TensorFloats];
        var destination = new float[o.TensorFloats];
        for (var i = 0; i < tensor.Length; i++) tensor[i] = (i % 1000) * 1e-6f;

        var cpuPerGigabyte = new Dictionary<string, double>();
        async Task<double> Measure(string name, Func<ValueTask> operation)
        {
            progress?.Invoke($"measuring {name} ({bytes / (1 << 20)} MiB per operation) ...");
            var (mbps, cpu) = await MeasureAsync(operation, bytes, o.Warmup, o.Duration, ct);
            cpuPerGigabyte[name] = cpu;
            progress?.Invoke($"{name}: {mbps:F0} MB/s, {cpu:F2} CPU-s/GB");
            return mbps;
        }

        var memcpy = await Measure("memcpy", () =>
        {
            tensor.AsSpan().CopyTo(destination);
            return ValueTask.CompletedTask;
        });
        var aggregate = await Measure("aggregation", () =>
        {
            ParallelTensor.Add(destination, tensor);
            return ValueTask.CompletedTask;
        });

        double rawTcp;
        await using (var sink = await TcpFrameSink.StartAsync(bytes, ct))
        {
            rawTcp = await Measure("raw TCP", () => sink.SendFrameAsync(ct));
        }

        double push, pull;
        // Authenticated as in production: the token is one more header per call.
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using (var server = await GpuPsServerHost.StartAsync(new WireSinkShard(o.TensorFloats), "http://127.0.0.1:0", auth, Logger.None, ct))
        await using (var client = new GrpcShardClient(server.Address.ToString(), auth, o.Client))
        {
            var header = new PushHeader(WorkerId: 0, Step: 0, Shard: 0, SampleCount: 1, LossSum: 0);
            push = await Measure("gRPC push", async () => await client.PushAsync(header, tensor, ct));
            pull = await Measure("gRPC pull", async () => await client.PullAsync(0, 0, destination, ct));
        }

        WireBenchmarkResult Row(string name, double mbps, string note) =>
            new(name, mbps, mbps / memcpy, mbps / rawTcp, $"{note}; {cpuPerGigabyte[name]:F2} CPU-s/GB");
        return
        [
            Row("memcpy", memcpy, "Span<float>.CopyTo in process: the ceiling"),
            Row("raw TCP", rawTcp, "length-prefixed frames over a 127.0.0.1 socket, acknowledged one at a time"),
            Row("gRPC push", push, $"GrpcShardClient client stream of {o.Client.ChunkBytes >> 10} KiB chunks; target >= 300 MB/s"),
            Row("gRPC pull", pull, "GrpcShardClient unary pull into the caller's buffer; target >= 800 MB/s"),
            Row("aggregation", aggregate, "ParallelTensor.Add (the shard's sum) of a gradient into an accumulator; target >= 0.5 x memcpy"),
        ];
    }

    /// <summary>
    /// Best throughput over windows of <see cref="Window"/> within <paramref name="duration"/>, plus process CPU time per GB
    /// moved (client and server threads together). On a shared 2-core machine, other processes' load swung single-window
    /// memcpy results by 5x; the best window approximates the idle machine, and CPU per GB does not depend on load.
    /// </summary>
    private static async Task<(double MegabytesPerSecond, double CpuSecondsPerGigabyte)> MeasureAsync(
        Func<ValueTask> operation, long bytesPerOperation, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < warmup;) await operation();
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        long operations = 0;
        double best = 0;
        while (total.Elapsed < duration)
        {
            ct.ThrowIfCancellationRequested();
            var window = Stopwatch.StartNew();
            long inWindow = 0;
            do
            {
                await operation();
                inWindow++;
            }
            while (window.Elapsed < Window);
            operations += inWindow;
            best = Math.Max(best, inWindow * bytesPerOperation / window.Elapsed.TotalSeconds / 1e6);
        }
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        return (best, cpu / (operations * bytesPerOperation / 1e9));
    }
}
