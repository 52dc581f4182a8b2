using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;
using Serilog.Events;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The data plane of a server on an https:// address is TLS, with the gRPC endpoint's certificate and client rules:
/// workers reaching the server over https:// move tensors over it (plain TCP frames inside TLS, or shared memory after a
/// TLS-protected handshake) exactly; a client that does not trust the certificate, or with mutual TLS presents none the
/// authority issued, gets no connection; no downgrade either way — a plaintext client is refused by a TLS data plane and
/// a TLS client refuses a plaintext one, with a clear error and nothing applied.
/// </summary>
public sealed class DataPlaneTlsTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TestCertificates _ca = new();
    private readonly TestCertificates _stranger = new("another CA");
    private readonly JobAuth _auth = JobAuth.WithToken(JobToken.Generate());

    public void Dispose()
    {
        _ca.Dispose();
        _stranger.Dispose();
    }

    [Theory]
    [InlineData(TransportChoice.Tcp, false, "tcp+tls://127.0.0.1:")]
    [InlineData(TransportChoice.Tcp, true, "tcp+tls://127.0.0.1:")]
    [InlineData(TransportChoice.Shm, false, "shm+tls://127.0.0.1:")]
    public async Task Workers_of_an_https_server_move_tensors_over_its_tls_data_plane_exactly(TransportChoice choice, bool mutual, string plane)
    {
        var shard = new FakeShard(0, 40_000) { PullStep = 3 };
        var log = new CapturedLog();
        await using var host = await StartAsync(shard, new TlsCredentials(_ca.Server(), mutual ? _ca.AuthorityCollection : null), log);
        await using var client = new NegotiatedShardClient(host.Address.ToString(), _auth.WithTls(new TlsCredentials(mutual ? _ca.Client() : null, _ca.AuthorityCollection)), choice);
        var gradient = RandomFloats(new Random(3), 40_000);
        var pulled = new float[40_000];
        var fusedPulled = new float[40_000];

        Assert.True((await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None)).DataPort > 0);
        var outcome = await client.PushAsync(new PushHeader(1, 2, 0, 9, 1.5, CodeRow: 1), gradient, CancellationToken.None);
        var result = await client.PullAsync(1, 3, pulled, CancellationToken.None);
        var fused = await client.PushPullAsync(new PushHeader(1, 3, 0, 9, 1.5), gradient, 3, fusedPulled, CancellationToken.None);

        Assert.StartsWith(plane, client.DataPlane);
        Assert.True(outcome.IsApplied);
        Assert.Equal(2, shard.Pushes.Count);
        Assert.All(shard.Pushes, p => Assert.Equal(gradient, p.Gradient));
        Assert.Equal(shard.Parameters, pulled);
        Assert.Equal((3L, 40_000), (result.Step, result.Length));
        Assert.NotNull(fused.Pull);
        Assert.Equal(shard.Parameters, fusedPulled);
        Assert.Contains(log.Events, e => e.RenderMessage().Contains("data plane") && e.RenderMessage().Contains("over TLS"));
    }

    [Fact]
    public async Task A_plaintext_client_is_refused_by_a_tls_data_plane_before_its_token_is_read()
    {
        var shard = new FakeShard(0, 100);
        await using var host = await StartAsync(shard, new TlsCredentials(_ca.Server(), null));

        await using var plaintext = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, _auth, Timeout);
        var e = await Assert.ThrowsAsync<ShardException>(() => plaintext.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None));
        using (var raw = await RawFrameClient.ConnectAsync(host.DataPort))
        {
            raw.Send(Protocol.Frames.FrameHeader.Of(Protocol.Frames.FrameKind.Hello), System.Text.Encoding.UTF8.GetBytes(_auth.Token!.HeaderValue));
            raw.AssertRefusedAndClosed(ShardErrorKind.Unauthenticated, "takes TLS connections only");
        }

        Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);   // not transient: no retry makes plaintext acceptable
        Assert.Contains("takes TLS connections only", e.Message);
        Assert.Equal(0, shard.Calls);
        Assert.Empty(shard.Pushes);
    }

    [Fact]
    public async Task A_tls_client_sends_nothing_to_a_plaintext_data_plane()
    {
        var shard = new FakeShard(0, 100);
        var log = new CapturedLog();
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", _auth, ServerLimits.Default, log.Logger,
            CancellationToken.None);
        await using var tls = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, _auth, Timeout,
            tls: TlsCredentials.ClientOptions(new TlsCredentials(null, _ca.AuthorityCollection), "127.0.0.1"));

        var e = await Assert.ThrowsAsync<ShardException>(() => tls.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None));

        Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);
        Assert.Contains("TLS handshake with the data plane failed", e.Message);
        Assert.Equal(0, shard.Calls);
        // The plaintext server saw a ClientHello where a Hello frame was due (no token): refused as a malformed frame.
        await TcpDataPlaneTests.WaitForAsync(() => log.Events.FirstOrDefault(l => l.Level == LogEventLevel.Warning && l.RenderMessage().Contains("not a GpuPs data-plane frame")));
    }

    public static TheoryData<string> RefusedPeers =>
    [
        "a server certificate of another authority", "a server certificate for another host", "no client certificate under mutual TLS",
        "a client certificate of another authority under mutual TLS",
    ];

    [Theory]
    [MemberData(nameof(RefusedPeers))]
    public async Task A_certificate_the_other_side_does_not_trust_opens_no_connection_and_nothing_is_applied(string why)
    {
        var shard = new FakeShard(0, 100);
        var log = new CapturedLog();
        bool mutual = why.EndsWith("mutual TLS", StringComparison.Ordinal);
        var server = new TlsCredentials(why == "a server certificate for another host" ? _ca.Server("elsewhere.example") : _ca.Server(), mutual ? _ca.AuthorityCollection : null);
        await using var host = await StartAsync(shard, server, log);
        var client = why switch
        {
            "a server certificate of another authority" => new TlsCredentials(null, _stranger.AuthorityCollection),
            "a client certificate of another authority under mutual TLS" => new TlsCredentials(_stranger.Client(), _ca.AuthorityCollection),
            _ => new TlsCredentials(null, _ca.AuthorityCollection),
        };
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, _auth, Timeout, tls: TlsCredentials.ClientOptions(client, "127.0.0.1"));

        var e = await Assert.ThrowsAsync<ShardException>(() => channel.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None));

        if (mutual)
        {
            // The client accepted the server; the server refuses the client's certificate (after the client's last
            // handshake message under TLS 1.3, so the client learns it as a lost connection) and logs why.
            // Retried (a server that died at that moment looks the same), the message naming the likely cause (on a loaded
            // machine the close may still meet the client's handshake: "closed the connection during the TLS handshake").
            Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
            Assert.Matches("closed the connection (right after|during) the TLS handshake", e.Message);
            await TcpDataPlaneTests.WaitForAsync(() => log.Events.FirstOrDefault(l => l.RenderMessage().Contains("TLS handshake failed")));
        }
        else
        {
            Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);
            Assert.Contains("TLS handshake with the data plane failed", e.Message);
        }
        Assert.Equal(0, shard.Calls);
        Assert.Empty(shard.Pushes);
    }

    private async Task<GpuPsServerHost> StartAsync(IParameterShard shard, TlsCredentials tls, CapturedLog? log = null) =>
        await GpuPsServerHost.StartAsync(shard, "https://127.0.0.1:0", "tcp://127.0.0.1:0", _auth.WithTls(tls), ServerLimits.Default,
            log?.Logger ?? Serilog.Core.Logger.None, CancellationToken.None);
}
