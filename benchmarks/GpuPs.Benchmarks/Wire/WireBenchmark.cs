using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;

namespace GpuPs.Benchmarks.Wire;

/// <summary>Settings of <see cref="WireBenchmark.RunAsync"/>.</summary>
public sealed record WireBenchmarkOptions
{
    /// <summary>Tensor sizes measured, in float32 values: 4 MiB and 1 KiB.</summary>
    public IReadOnlyList<int> TensorFloats { get; init; } = [1 << 20, 256];

    /// <summary>The paths measured (<see cref="WireBenchmark.Paths"/>), reported in this order.</summary>
    public IReadOnlyList<string> Paths { get; init; } = WireBenchmark.Paths;

    /// <summary>Untimed operations of each path before each measurement (JIT, connections, pools).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Timed run of each path and operation: every operation in it counts (no best window).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Slices each path's timed run is cut into, the paths taking turns slice by slice: on a shared machine whose load
    /// swings within seconds, every path then sees the same load, so the ratios to the raw socket hold.
    /// </summary>
    public int Rounds { get; init; } = 6;
}

/// <summary>
/// One measured (path, operation, size): every operation of the timed run, one in flight at a time, between this process
/// and the server process. MeanMBps is 10^6 payload bytes per second over the whole run (total bytes / total time);
/// latencies are per operation; P50MBps is the payload over the median latency. The CPU columns are the processor time
/// each process spent per operation (all its threads, user and kernel, the socket copies included): unlike wall time,
/// they barely move with the machine's load. ServerCpuMicroseconds is NaN when the server runs in this process.
/// </summary>
public sealed record WireBenchmarkResult(string Path, string Operation, int Bytes, long Operations, double MeanMBps, double P50MBps,
    double MeanMicroseconds, double P50Microseconds, double P99Microseconds, double RatioToRaw, double ClientCpuMicroseconds, double ServerCpuMicroseconds)
{
    /// <summary>The row's name in tables and plots, e.g. <c>tcp push 4 MiB</c>.</summary>
    public string Label => $"{Path} {Operation} {(Bytes >= 1 << 20 ? $"{Bytes >> 20} MiB" : $"{Bytes >> 10} KiB")}";
}

/// <summary>
/// The client half of <c>gpups bench wire</c>: against a <see cref="WireSinkServer"/> in another process, pushes and pulls
/// one tensor at a time over the raw-socket reference, gRPC (<see cref="GrpcShardClient"/>), the framed TCP data plane
/// (<c>tcp</c>, XXH3 on every frame; <c>tcp-nocheck</c>, a server with <c>--frame-checksum none</c>: large payloads unhashed)
/// and the data plane with payloads through shared memory (each negotiated as a worker does), and the same over TLS:
/// <c>raw-tls</c> (the raw socket inside TLS, the TLS paths' reference), <c>grpc-tls</c> and <c>tls</c> (the data plane
/// of an https:// server, negotiated as a worker does), trusting the sink's self-signed certificate as its authority; it
/// reports means and percentiles of each. The paths take turns in slices
/// (<see cref="WireBenchmarkOptions.Rounds"/>), so a load that changes during the run weighs on all of them alike.
/// </summary>
public static class WireBenchmark
{
    /// <summary>The paths, in the order they are measured and reported.</summary>
    public static readonly string[] Paths = ["raw", "grpc", "tcp", "tcp-nocheck", "shm", "raw-tls", "grpc-tls", "tls"];

    /// <summary>
    /// Measures every path of <paramref name="o"/> and both operations against the server at <paramref name="url"/>
    /// (<see cref="WireSinkServer.Url"/>) for tensors of <paramref name="floats"/> values.
    /// </summary>
    /// <param name="serverCpu">The server process's processor time so far; null when it runs in this process.</param>
    public static async Task<IReadOnlyList<WireBenchmarkResult>> RunAsync(string url, int floats, JobAuth auth, WireBenchmarkOptions o, Action<string>? progress,
        CancellationToken ct, Func<TimeSpan>? serverCpu = null)
    {
        foreach (var p in o.Paths)
            if (!Paths.Contains(p)) throw new ArgumentException($"unknown wire path '{p}'; the paths are {string.Join(", ", Paths)}");
        var uri = new Uri(url);
        var address = uri.GetLeftPart(UriPartial.Authority);
        var query = uri.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        int Port(string name) => int.Parse(query[name], System.Globalization.CultureInfo.InvariantCulture);
        var tlsAddress = $"https://{uri.Host}:{Port("https")}";
        var tls = new TlsCredentials(null, [X509CertificateLoader.LoadCertificate(Convert.FromHexString(query["cert"]))]);
        int bytes = floats * sizeof(float);
        var tensor = new float[floats];
        var destination = new float[floats];
        for (var i = 0; i < tensor.Length; i++) tensor[i] = (i % 1000) * 1e-6f;
        var header = new PushHeader(WorkerId: 0, Step: 0, Shard: 0, SampleCount: 1, LossSum: 0);

        var clients = new List<(string Name, Func<Task> Push, Func<Task> Pull, IAsyncDisposable Client)>();
        try
        {
            foreach (var path in o.Paths)
                clients.Add(path switch
                {
                    "raw" => await RawAsync("raw", Port("raw"), null),
                    "grpc" => Grpc("grpc", address, auth),
                    "tcp" => await DataPlaneAsync("tcp", address, auth, TransportChoice.Tcp),
                    "tcp-nocheck" => await DataPlaneAsync("tcp-nocheck", $"http://{uri.Host}:{Port("nocheck")}", auth, TransportChoice.Tcp),
                    "shm" => await DataPlaneAsync("shm", address, auth, TransportChoice.Shm),
                    "raw-tls" => await RawAsync("raw-tls", Port("rawtls"), TlsCredentials.ClientOptions(tls, uri.Host)),
                    "grpc-tls" => Grpc("grpc-tls", tlsAddress, auth.WithTls(tls)),
                    _ => await DataPlaneAsync("tls", tlsAddress, auth.WithTls(tls), TransportChoice.Tcp),
                });
            var results = new List<WireBenchmarkResult>();
            foreach (var operation in new[] { "push", "pull" })
            {
                progress?.Invoke($"measuring {operation} of {bytes} bytes over {string.Join(", ", o.Paths)} ...");
                var measured = await MeasureAsync(clients.Select(c => operation == "push" ? c.Push : c.Pull).ToArray(), o, serverCpu, ct);
                double MeanMBps(List<double> latencies) => latencies.Count * (double)bytes / latencies.Sum() / 1e6;
                int rawIndex = clients.FindIndex(c => c.Name == "raw");
                double raw = rawIndex < 0 ? double.NaN : MeanMBps(measured[rawIndex].Latencies);
                for (var i = 0; i < clients.Count; i++)
                {
                    var (latencies, clientCpu, serverSeconds) = measured[i];
                    double seconds = latencies.Sum(), mean = MeanMBps(latencies);
                    latencies.Sort();
                    double p50 = Percentile(latencies, 0.50), p99 = Percentile(latencies, 0.99);
                    var row = new WireBenchmarkResult(clients[i].Name, operation, bytes, latencies.Count, mean, bytes / p50 / 1e6, seconds / latencies.Count * 1e6,
                        p50 * 1e6, p99 * 1e6, mean / raw, clientCpu / latencies.Count * 1e6,
                        serverCpu is null ? double.NaN : serverSeconds / latencies.Count * 1e6);
                    progress?.Invoke($"{row.Label}: mean {row.MeanMBps:F0} MB/s, p50 {row.P50Microseconds:F0} µs, p99 {row.P99Microseconds:F0} µs, " +
                        $"CPU per operation {row.ClientCpuMicroseconds:F0} µs client, {row.ServerCpuMicroseconds:F0} µs server");
                    results.Add(row);
                }
            }
            return results;
        }
        finally
        {
            foreach (var c in clients) await c.Client.DisposeAsync();
        }

        async Task<(string, Func<Task>, Func<Task>, IAsyncDisposable)> RawAsync(string name, int port, SslClientAuthenticationOptions? options)
        {
            var raw = await RawSocketClient.ConnectAsync(uri.Host, port, bytes, ct, options);
            return (name, () => raw.PushAsync(ct), () => raw.PullAsync(ct), raw);
        }

        (string, Func<Task>, Func<Task>, IAsyncDisposable) Grpc(string name, string at, JobAuth with)
        {
            var grpc = new GrpcShardClient(at, with);
            return (name, () => grpc.PushAsync(header, tensor, ct), () => grpc.PullAsync(0, 0, destination, ct), grpc);
        }

        async Task<(string, Func<Task>, Func<Task>, IAsyncDisposable)> DataPlaneAsync(string name, string at, JobAuth with, TransportChoice choice)
        {
            var plane = new NegotiatedShardClient(at, with, choice);
            await plane.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, ct);
            return (name, () => plane.PushAsync(header, tensor, ct), () => plane.PullAsync(0, 0, destination, ct), plane);
        }
    }

    /// <summary>
    /// Each call's latencies in seconds and the client's and server's processor seconds over its share of the timed run,
    /// after a warm-up of each; the calls take turns in <see cref="WireBenchmarkOptions.Rounds"/> slices.
    /// </summary>
    private static async Task<(List<double> Latencies, double ClientCpu, double ServerCpu)[]> MeasureAsync(Func<Task>[] calls, WireBenchmarkOptions o,
        Func<TimeSpan>? serverCpu, CancellationToken ct)
    {
        foreach (var call in calls)
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < o.Warmup;) await call();
        var measured = calls.Select(_ => (Latencies: new List<double>(1 << 14), ClientCpu: 0.0, ServerCpu: 0.0)).ToArray();
        var slice = o.Duration / Math.Max(1, o.Rounds);
        for (var round = 0; round < Math.Max(1, o.Rounds); round++)
            for (var i = 0; i < calls.Length; i++)
            {
                var (client0, server0) = (Environment.CpuUsage.TotalTime, serverCpu?.Invoke() ?? TimeSpan.Zero);
                for (var clock = Stopwatch.StartNew(); clock.Elapsed < slice;)
                {
                    ct.ThrowIfCancellationRequested();
                    long start = Stopwatch.GetTimestamp();
                    await calls[i]();
                    measured[i].Latencies.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
                measured[i].ClientCpu += (Environment.CpuUsage.TotalTime - client0).TotalSeconds;
                measured[i].ServerCpu += ((serverCpu?.Invoke() ?? TimeSpan.Zero) - server0).TotalSeconds;
            }
        return measured;
    }

    /// <summary>The nearest-rank percentile of sorted <paramref name="sorted"/>.</summary>
    private static double Percentile(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
