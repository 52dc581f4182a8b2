using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using Serilog.Events;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The framed TCP data plane has no encryption of its own, so a server on an <c>https://</c> URL never opens it, even when
/// asked to, and says so: tensors stay on gRPC over TLS. <c>--transport auto</c> workers train over TLS; <c>--transport
/// tcp</c> is refused at registration with a clear reason rather than sending tensors in the clear.
/// </summary>
public sealed class DataPlaneTlsTests : IDisposable
{
    private readonly TestCertificates _ca = new();
    private readonly JobToken _token = JobToken.Generate();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task A_tls_server_opens_no_data_plane_auto_workers_go_over_grpc_with_tls_and_tcp_only_ones_are_refused()
    {
        var shard = new FakeShard(0, 10);
        var log = new CapturedLog();
        var server = JobAuth.WithToken(_token).WithTls(new TlsCredentials(_ca.Server(), null));
        await using var host = await GpuPsServerHost.StartAsync(shard, "https://127.0.0.1:0", "tcp://127.0.0.1:0", server, ServerLimits.Default, log.Logger,
            CancellationToken.None);
        var worker = JobAuth.WithToken(_token).WithTls(new TlsCredentials(null, _ca.AuthorityCollection));
        var request = new RegisterRequest { RequestedWorkerId = -1 };

        Assert.Equal(0, host.DataPort);
        Assert.Contains(log.Events, e => e.Level == LogEventLevel.Information && e.RenderMessage().Contains("no framed TCP data plane beside TLS"));
        await using var auto = new NegotiatedShardClient(host.Address.ToString(), worker, TransportChoice.Auto);
        Assert.Equal(0, (await auto.RegisterAsync(request, CancellationToken.None)).DataPort);
        Assert.Equal(host.Address.ToString(), auto.DataPlane);   // tensors over gRPC, i.e. over TLS
        var pulled = new float[10];
        await auto.PullAsync(0, 0, pulled, CancellationToken.None);
        Assert.Equal(shard.Parameters, pulled);

        await using var tcpOnly = new NegotiatedShardClient(host.Address.ToString(), worker, TransportChoice.Tcp);
        var e = await Assert.ThrowsAsync<ShardException>(() => tcpOnly.RegisterAsync(request, CancellationToken.None));
        Assert.Contains("offers no TCP data plane", e.Message);
    }
}
