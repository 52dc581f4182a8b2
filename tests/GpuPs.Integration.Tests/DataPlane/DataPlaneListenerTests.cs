using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport.Tcp;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The data plane's own socket listener (<c>DataPlaneListener</c>): its connection limit, how it sees a client that gives
/// a waiting pull up, and how a stopping server ends its connections. Every wait is on an event (a call's answer, a
/// connection accepted again), never on elapsed time.
/// </summary>
public class DataPlaneListenerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<GpuPsServerHost> StartAsync(IParameterShard shard, JobAuth auth, ServerLimits limits) =>
        GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, limits, Serilog.Core.Logger.None, CancellationToken.None);

    [Fact]
    public async Task A_connection_beyond_the_limit_is_closed_and_the_ones_open_keep_working()
    {
        var shard = new FakeShard(0, 100);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await StartAsync(shard, auth, new ServerLimits { MaxConnections = 2 });
        await using var first = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        await using var second = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        await using var third = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        var push = new PushHeader(0, 0, 0, 1, 0);
        Assert.True((await first.PushAsync(push, new float[100], CancellationToken.None)).IsApplied);
        Assert.True((await second.PushAsync(push, new float[100], CancellationToken.None)).IsApplied);

        var refused = await Assert.ThrowsAsync<ShardException>(() => third.PushAsync(push, new float[100], CancellationToken.None));
        Assert.Equal(ShardErrorKind.Unavailable, refused.Kind);   // transient: workers retry
        Assert.True((await first.PushAsync(push, new float[100], CancellationToken.None)).IsApplied);   // the open ones are unaffected
        Assert.Equal(3, shard.Pushes.Count);

        await second.DisposeAsync();   // closes its idle connection: a place frees up once the server has seen the close
        await PushUntilAcceptedAsync(third, push);
        Assert.Equal(4, shard.Pushes.Count);
    }

    [Fact]
    public async Task A_client_that_gives_a_waiting_pull_up_frees_its_connection_at_once()
    {
        var shard = new FakeShard(0, 100) { NeverReady = true };
        var auth = JobAuth.WithToken(JobToken.Generate());
        // One connection at a time: the next is accepted only once the server has ended the first.
        await using var host = await StartAsync(shard, auth, new ServerLimits { MaxConnections = 1 });
        await using var puller = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        using var giveUp = new CancellationTokenSource();
        // The server would wait a minute for the step; the client gives up as soon as the server holds the pull.
        var pull = puller.PullAsync(0, 5, new float[100], giveUp.Token, TimeSpan.FromMinutes(1));
        while (shard.LastWait is null) await Task.Delay(10);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pull);

        // Accepted well before the pull's minute is up: the server saw the close while the pull waited.
        shard.Pushes.Clear();
        await using var next = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        await PushUntilAcceptedAsync(next, new PushHeader(1, 0, 0, 1, 0));
        Assert.Single(shard.Pushes);
    }

    [Fact]
    public async Task Stopping_the_server_ends_a_waiting_pull_with_a_transient_error()
    {
        var shard = new FakeShard(0, 100) { NeverReady = true };
        var auth = JobAuth.WithToken(JobToken.Generate());
        var host = await StartAsync(shard, auth, ServerLimits.Default);
        await using var puller = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        var pull = puller.PullAsync(0, 5, new float[100], CancellationToken.None, TimeSpan.FromMinutes(1));
        while (shard.LastWait is null) await Task.Delay(10);

        await host.DisposeAsync();
        var e = await Assert.ThrowsAsync<ShardException>(() => pull);

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("data-plane connection lost", e.Message);
    }

    /// <summary>Pushes until the server accepts the connection (it counts a closed one asynchronously); at most 10 s.</summary>
    private static async Task PushUntilAcceptedAsync(TcpTensorChannel channel, PushHeader push)
    {
        for (var watch = System.Diagnostics.Stopwatch.StartNew(); ; await Task.Delay(20))
        {
            try
            {
                Assert.True((await channel.PushAsync(push, new float[100], CancellationToken.None)).IsApplied);
                return;
            }
            catch (ShardException e) when (e.Kind == ShardErrorKind.Unavailable && watch.Elapsed < TimeSpan.FromSeconds(10)) { }
        }
    }
}
