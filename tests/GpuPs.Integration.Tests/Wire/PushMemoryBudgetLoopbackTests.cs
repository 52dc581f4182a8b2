using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// Issue 11, the in-flight push memory budget over real loopback gRPC: stalled push streams hold their share until they
/// end, a push that does not fit is refused busy (RESOURCE_EXHAUSTED, which a GpuPs client takes as retry-later), counted
/// in the status, and the room comes back when the stalled streams go.
/// </summary>
public class PushMemoryBudgetLoopbackTests
{
    private const int ChunkFloats = 16_000;   // 64,000 bytes: within the 64 KiB message limit below

    [Fact]
    public async Task Pushes_beyond_the_budget_are_refused_busy_and_counted_until_the_streams_holding_it_end()
    {
        var limits = new ServerLimits { MaxMessageBytes = 64 << 10, MaxInflightPushBytes = 1 << 20 };
        long reservation = limits.PushReservation(FakeShard.DefaultLength);   // 465,548 bytes: two fit in 1 MiB
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits);
        await using var client = new GrpcShardClient(server.Address, server.Auth, new ShardClientOptions { ChunkBytes = ChunkFloats * sizeof(float) });
        var gradient = new float[FakeShard.DefaultLength];
        var header = new PushHeader(0, 0, 0, 1, 0);

        var stalled = new List<(GrpcChannel, AsyncClientStreamingCall<PushChunkFrame, PushReply>)>();
        for (var i = 1; i <= 2; i++)
        {
            var channel = GrpcChannel.ForAddress(server.Address);
            var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, server.CallOptions());
            await call.RequestStream.WriteAsync(new PushChunkFrame(header, 0, gradient.AsMemory(0, ChunkFloats)));
            stalled.Add((channel, call));
            while ((await client.StatusAsync(CancellationToken.None)).InflightPushBytes != i * reservation) await Task.Delay(10);
        }

        var busy = await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(header, gradient, CancellationToken.None));
        var raw = await Assert.ThrowsAsync<RpcException>(() => server.RawPushAsync(new PushChunkFrame(header, 0, gradient.AsMemory(0, ChunkFloats))));
        var during = await client.StatusAsync(CancellationToken.None);

        Assert.Equal(ShardErrorKind.Unavailable, busy.Kind);   // transient: a GpuPs worker retries it
        Assert.Contains("server busy", busy.Message);
        Assert.Equal(StatusCode.ResourceExhausted, raw.StatusCode);
        Assert.Contains("--max-inflight-push-mb", raw.Status.Detail);
        Assert.Equal((2, 2 * reservation, 2 * reservation), (during.PushesRefusedBusy, during.InflightPushBytes, during.InflightPushBytesPeak));
        Assert.True(during.CallsRefusedUnread >= 2);
        Assert.Empty(server.Shard.Pushes);

        foreach (var (channel, call) in stalled)
        {
            call.Dispose();   // resets the stream: the server's read fails and the push lets go of its share
            channel.Dispose();
        }
        while ((await client.StatusAsync(CancellationToken.None)).InflightPushBytes != 0) await Task.Delay(10);
        // The honest push goes on a connection of its own: once in two clean-clone CI runs a push on the connection that
        // carried the refused one sent no chunk for 10 s (suspected: HTTP/2 flow-control credit of the refused stream
        // not returned; a known defect to find). What this test asserts is the budget let go, which a new
        // connection shows as well: a push still held would be refused busy here.
        await using var fresh = new GrpcShardClient(server.Address, server.Auth, new ShardClientOptions { ChunkBytes = ChunkFloats * sizeof(float) });
        var outcome = await fresh.PushAsync(header, gradient, CancellationToken.None);

        Assert.True(outcome.IsApplied);
        Assert.Single(server.Shard.Pushes);
    }

    [Fact]
    public async Task A_budget_below_one_push_of_the_shard_is_refused_at_start()
    {
        var limits = new ServerLimits { MaxInflightPushBytes = 1 << 20 };   // one push: 400 KB of shard + 4 MiB of chunk

        var e = await Assert.ThrowsAsync<ArgumentException>(() => LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits));

        Assert.Contains("below one push of this shard", e.Message);
    }
}
