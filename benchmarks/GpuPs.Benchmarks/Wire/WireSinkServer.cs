using GpuPs.Core.Security;
using GpuPs.Server;
using Serilog;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The server side of the wire benchmark, run in its own process (<c>gpups bench wire --serve</c>): a sink shard of one
/// tensor size behind gRPC and the framed TCP data plane (one <see cref="GpuPsServerHost"/>), and the raw-socket
/// reference beside it. <see cref="Url"/> names all three for the client.
/// </summary>
public sealed class WireSinkServer : IAsyncDisposable
{
    private readonly GpuPsServerHost _host;
    private readonly RawSocketSink _raw;

    private WireSinkServer(GpuPsServerHost host, RawSocketSink raw) => (_host, _raw) = (host, raw);

    /// <summary>The gRPC address with the raw socket's port as a query, e.g. <c>http://127.0.0.1:5000/?raw=5001</c>; the data plane's port comes with registration.</summary>
    public string Url => $"{_host.Address}?raw={_raw.Port}";

    /// <summary>Starts the three servers on loopback for tensors of <paramref name="floats"/> values.</summary>
    public static async Task<WireSinkServer> StartAsync(int floats, JobAuth auth, ILogger log, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        var host = await GpuPsServerHost.StartAsync(new WireSinkShard(floats), "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default, log, ct);
        return new WireSinkServer(host, RawSocketSink.Start());
    }

    public async ValueTask DisposeAsync()
    {
        await _raw.DisposeAsync();
        await _host.DisposeAsync();
    }
}
