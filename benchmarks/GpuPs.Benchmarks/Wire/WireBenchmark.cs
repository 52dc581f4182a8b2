using System.Diagnostics;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;

namespace GpuPs.Benchmarks.Wire;

/// <summary>Settings of <see cref="WireBenchmark.RunAsync"/>.</summary>
public sealed record WireBenchmarkOptions
{
    /// <summary>Tensor sizes measured, in float32 values: 4 MiB and 1 KiB.</summary>
    public IReadOnlyList<int> TensorFloats { get; init; } = [1 << 20, 256];

    /// <summary>Untimed operations before each measurement (JIT, connections, pools).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Timed run of each measurement: every operation in it counts (no best window).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// One measured (path, operation, size): every operation of the timed run, one in flight at a time, between this process
/// and the server process. MeanMBps is 10^6 payload bytes per second over the whole run (total bytes / total time);
/// latencies are per operation; P50MBps is the payload over the median latency.
/// </summary>
public sealed record WireBenchmarkResult(string Path, string Operation, int Bytes, long Operations, double MeanMBps, double P50MBps,
    double MeanMicroseconds, double P50Microseconds, double P99Microseconds, double RatioToRaw)
{
    /// <summary>The row's name in tables and plots, e.g. <c>tcp push 4 MiB</c>.</summary>
    public string Label => $"{Path} {Operation} {(Bytes >= 1 << 20 ? $"{Bytes >> 20} MiB" : $"{Bytes >> 10} KiB")}";
}

/// <summary>
/// The client half of <c>gpups bench wire</c>: against a <see cref="WireSinkServer"/> in another process, pushes and pulls
/// one tensor at a time over the raw-socket reference, gRPC (<see cref="GrpcShardClient"/>) and the framed TCP data plane
/// (<see cref="TcpTensorChannel"/>, negotiated as a worker does), and reports means and percentiles of each.
/// </summary>
public static class WireBenchmark
{
    /// <summary>The paths, in the order they are measured and reported.</summary>
    public static readonly string[] Paths = ["raw", "grpc", "tcp"];

    /// <summary>Measures every path and operation against the server at <paramref name="url"/> (<see cref="WireSinkServer.Url"/>) for tensors of <paramref name="floats"/> values.</summary>
    public static async Task<IReadOnlyList<WireBenchmarkResult>> RunAsync(string url, int floats, JobAuth auth, WireBenchmarkOptions o, Action<string>? progress,
        CancellationToken ct)
    {
        var uri = new Uri(url);
        var address = uri.GetLeftPart(UriPartial.Authority);
        int rawPort = int.Parse(uri.Query.TrimStart('?').Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
        int bytes = floats * sizeof(float);
        var tensor = new float[floats];
        var destination = new float[floats];
        for (var i = 0; i < tensor.Length; i++) tensor[i] = (i % 1000) * 1e-6f;
        var header = new PushHeader(WorkerId: 0, Step: 0, Shard: 0, SampleCount: 1, LossSum: 0);
        var results = new List<WireBenchmarkResult>();
        double rawPush = 0, rawPull = 0;

        async Task Measure(string path, string operation, Func<Task> call)
        {
            progress?.Invoke($"measuring {path} {operation} of {bytes} bytes ...");
            var latencies = await MeasureAsync(call, o.Warmup, o.Duration, ct);
            double seconds = latencies.Sum(), mean = latencies.Count * (double)bytes / seconds / 1e6;
            if (path == "raw") (rawPush, rawPull) = operation == "push" ? (mean, rawPull) : (rawPush, mean);
            latencies.Sort();
            double p50 = Percentile(latencies, 0.50), p99 = Percentile(latencies, 0.99);
            var row = new WireBenchmarkResult(path, operation, bytes, latencies.Count, mean, bytes / p50 / 1e6, seconds / latencies.Count * 1e6, p50 * 1e6, p99 * 1e6,
                mean / (operation == "push" ? rawPush : rawPull));
            progress?.Invoke($"{row.Label}: mean {row.MeanMBps:F0} MB/s, p50 {row.P50Microseconds:F0} µs, p99 {row.P99Microseconds:F0} µs");
            results.Add(row);
        }

        await using (var raw = await RawSocketClient.ConnectAsync(uri.Host, rawPort, bytes, ct))
        {
            await Measure("raw", "push", () => raw.PushAsync(ct));
            await Measure("raw", "pull", () => raw.PullAsync(ct));
        }
        await using (var grpc = new GrpcShardClient(address, auth))
        {
            await Measure("grpc", "push", () => grpc.PushAsync(header, tensor, ct));
            await Measure("grpc", "pull", () => grpc.PullAsync(0, 0, destination, ct));
        }
        await using (var tcp = new NegotiatedShardClient(address, auth, TransportChoice.Tcp))
        {
            await tcp.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, ct);
            await Measure("tcp", "push", () => tcp.PushAsync(header, tensor, ct));
            await Measure("tcp", "pull", () => tcp.PullAsync(0, 0, destination, ct));
        }
        return results;
    }

    /// <summary>Each operation's latency in seconds over <paramref name="duration"/>, after <paramref name="warmup"/>.</summary>
    private static async Task<List<double>> MeasureAsync(Func<Task> call, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < warmup;) await call();
        var latencies = new List<double>(1 << 16);
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < duration;)
        {
            ct.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            await call();
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return latencies;
    }

    /// <summary>The nearest-rank percentile of sorted <paramref name="sorted"/>.</summary>
    private static double Percentile(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
