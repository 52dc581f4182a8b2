using System.Net.Security;
using GpuPs.Core.Security;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport.Tcp;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// One way a client reaches the data plane, for theories that run a scenario over each: <c>tcp</c> (frames over plain
/// TCP), <c>tls</c> (the same frames inside TLS, the server on an https:// address with a certificate made at test time)
/// and <c>shm</c> (payloads through a shared-memory region, headers over TCP). Servers, channels and raw clients it makes
/// speak that transport.
/// </summary>
internal sealed class DataPlaneTransport : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TestCertificates? _ca;

    public DataPlaneTransport(string name)
    {
        Name = name;
        if (name == "tls") _ca = new TestCertificates();
    }

    /// <summary>Every transport's name, as theory data.</summary>
    public static TheoryData<string> Names => ["tcp", "tls", "shm"];

    public string Name { get; }

    public bool SharedMemory => Name == "shm";

    /// <summary>How a client checks the test server's certificate; null for the plaintext transports.</summary>
    public SslClientAuthenticationOptions? ClientTls =>
        _ca is null ? null : TlsCredentials.ClientOptions(new TlsCredentials(null, _ca.AuthorityCollection), "127.0.0.1");

    /// <summary>A server for <paramref name="shard"/> with its data plane on loopback (https and TLS for <c>tls</c>).</summary>
    public Task<GpuPsServerHost> StartAsync(IParameterShard shard, JobAuth auth, Serilog.ILogger? log = null) =>
        GpuPsServerHost.StartAsync(shard, _ca is null ? "http://127.0.0.1:0" : "https://127.0.0.1:0", "tcp://127.0.0.1:0",
            _ca is null ? auth : auth.WithTls(new TlsCredentials(_ca.Server(), null)), ServerLimits.Default, log ?? Serilog.Core.Logger.None, CancellationToken.None);

    /// <summary><paramref name="auth"/> as a worker of the test server holds it: trusting its certificate for <c>tls</c> (gRPC over https too).</summary>
    public JobAuth Client(JobAuth auth) => _ca is null ? auth : auth.WithTls(new TlsCredentials(null, _ca.AuthorityCollection));

    /// <summary>A worker's channel to shard 0 at <paramref name="port"/> (a region required for <c>shm</c>).</summary>
    public TcpTensorChannel Channel(int port, JobAuth auth) =>
        new("127.0.0.1", port, 0, auth, Timeout, SharedMemory ? SharedMemoryUse.Require : SharedMemoryUse.None, ClientTls);

    /// <summary>A raw client at <paramref name="port"/>, through TLS for <c>tls</c>, before any frame.</summary>
    public Task<RawFrameClient> ConnectAsync(int port) => RawFrameClient.ConnectAsync(port, ClientTls);

    /// <summary>A raw client at <paramref name="port"/> after its Hello with <paramref name="token"/>.</summary>
    public Task<RawFrameClient> HelloAsync(int port, string token) => RawFrameClient.HelloAsync(port, token, tls: ClientTls);

    public override string ToString() => Name;

    public void Dispose() => _ca?.Dispose();
}
