using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// Issue 11, TLS: real handshakes over loopback with certificates made at test time. A worker reaches a server only when
/// it trusts the server's certificate for that address; with mutual TLS the server takes only clients with a certificate
/// from its authority; the job token is still required over TLS. A refused handshake reaches no shard.
/// </summary>
public sealed class TlsLoopbackTests : IDisposable
{
    private readonly TestCertificates _ca = new();
    private readonly TestCertificates _stranger = new("another CA");
    private readonly JobToken _token = JobToken.Generate();

    public void Dispose()
    {
        _ca.Dispose();
        _stranger.Dispose();
    }

    [Fact]
    public async Task A_worker_trusting_the_servers_authority_registers_pulls_and_pushes_over_tls()
    {
        await using var server = await StartAsync(new TlsCredentials(_ca.Server(), null));
        await using var client = new GrpcShardClient(server.Address, JobAuth.WithToken(_token).WithTls(new TlsCredentials(null, _ca.AuthorityCollection)));

        var joined = await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);
        var parameters = new float[FakeShard.DefaultLength];
        await client.PullAsync(joined.WorkerId, 0, parameters, CancellationToken.None);
        var gradient = Enumerable.Range(0, FakeShard.DefaultLength).Select(i => (float)i).ToArray();
        var outcome = await client.PushAsync(new PushHeader(0, 0, 0, 1, 0), gradient, CancellationToken.None);

        Assert.StartsWith("https://", server.Address);
        Assert.Equal(server.Shard.Parameters, parameters);
        Assert.True(outcome.IsApplied);
        Assert.Equal(gradient, Assert.Single(server.Shard.Pushes).Gradient);
    }

    [Fact]
    public async Task Over_tls_a_call_without_the_job_token_is_still_unauthenticated()
    {
        await using var server = await StartAsync(new TlsCredentials(_ca.Server(), null));
        await using var client = new GrpcShardClient(server.Address, JobAuth.Insecure.WithTls(new TlsCredentials(null, _ca.AuthorityCollection)));

        var e = await Assert.ThrowsAsync<ShardException>(() => client.StatusAsync(CancellationToken.None));

        Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);
        Assert.Equal(0, server.Shard.Calls);
    }

    [Fact]
    public async Task A_cleartext_client_with_the_job_token_reaches_no_shard_of_a_tls_server()
    {
        await using var server = await StartAsync(new TlsCredentials(_ca.Server(), null));
        var cleartext = "http://" + server.Address["https://".Length..];
        await using var client = new GrpcShardClient(cleartext, JobAuth.WithToken(_token));

        var e = await Assert.ThrowsAsync<ShardException>(() => client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);   // h2c bytes are no TLS handshake: the server drops the connection
        Assert.Equal(0, server.Shard.Calls);
    }

    public static TheoryData<string> UntrustedServers => ["another authority", "the system store", "another host name"];

    [Theory]
    [MemberData(nameof(UntrustedServers))]
    public async Task A_worker_refuses_a_server_certificate_it_does_not_trust(string why)
    {
        var certificate = why == "another host name" ? _ca.Server("elsewhere.example") : _ca.Server();
        await using var server = await StartAsync(new TlsCredentials(certificate, null));
        var trusted = why switch
        {
            "another authority" => new TlsCredentials(null, _stranger.AuthorityCollection),
            "the system store" => new TlsCredentials(null, null),
            _ => new TlsCredentials(null, _ca.AuthorityCollection),
        };
        await using var client = new GrpcShardClient(server.Address, JobAuth.WithToken(_token).WithTls(trusted));

        var e = await Assert.ThrowsAsync<ShardException>(() => client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("SSL", e.Message);
        Assert.Equal(0, server.Shard.Calls);
    }

    public static TheoryData<string> UnfitClients => ["no client certificate", "another authority's client certificate"];

    [Theory]
    [MemberData(nameof(UnfitClients))]
    public async Task With_mutual_tls_a_client_without_a_certificate_of_the_authority_is_refused(string why)
    {
        await using var server = await StartAsync(new TlsCredentials(_ca.Server(), _ca.AuthorityCollection));
        var own = why == "no client certificate" ? null : _stranger.Client();
        await using var client = new GrpcShardClient(server.Address, JobAuth.WithToken(_token).WithTls(new TlsCredentials(own, _ca.AuthorityCollection)));

        var e = await Assert.ThrowsAsync<ShardException>(() => client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Equal(0, server.Shard.Calls);
    }

    [Fact]
    public async Task With_mutual_tls_a_client_certificate_of_the_authority_is_admitted()
    {
        await using var server = await StartAsync(new TlsCredentials(_ca.Server(), _ca.AuthorityCollection));
        await using var client = new GrpcShardClient(server.Address, JobAuth.WithToken(_token).WithTls(new TlsCredentials(_ca.Client(), _ca.AuthorityCollection)));

        var joined = await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);

        Assert.Equal(0, joined.WorkerId);
    }

    [Fact]
    public async Task Tls_credentials_with_a_cleartext_address_and_an_https_server_without_a_certificate_are_refused()
    {
        var tls = new TlsCredentials(null, _ca.AuthorityCollection);

        Assert.Contains("not https://", Assert.Throws<ArgumentException>(() => new GrpcShardClient("http://127.0.0.1:1", JobAuth.WithToken(_token).WithTls(tls))).Message);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => GpuPs.Server.GpuPsServerHost.StartAsync(new FakeShard(0), "https://127.0.0.1:0",
            JobAuth.WithToken(_token).WithTls(tls), Serilog.Core.Logger.None, CancellationToken.None));
        Assert.Contains("--tls-cert", e.Message);
    }

    private Task<LoopbackServer> StartAsync(TlsCredentials tls) =>
        LoopbackServer.StartAsync(new FakeShard(index: 0), JobAuth.WithToken(_token).WithTls(tls));
}
