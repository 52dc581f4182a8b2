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

        var stalled = await HoldBudgetAsync(server, client, header, gradient, streams: 2, reservation);

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

        await ReleaseAsync(stalled, client);
        // The same client, hence the same HTTP/2 connection, that carried the busy refusal.
        var outcome = await client.PushAsync(header, gradient, CancellationToken.None);

        Assert.True(outcome.IsApplied);
        Assert.Single(server.Shard.Pushes);
    }

    /// <summary>
    /// The known defect of the busy refusal: answered before its chunks were read, the client reset the stream and
    /// could still send a DATA frame after its RST_STREAM; Kestrel closed the connection for it (STREAM_CLOSED) and the
    /// next push, already sent there, was retried on a new connection without its chunks: refused as carrying none, or
    /// stalled for the push idle timeout. It happened in 3 of 40 rounds (1 of 4 in another run) on the loaded 2-core
    /// machine; with the busy refusal answered undrained, these 30 rounds failed in 3 runs of 3.
    /// </summary>
    [Fact]
    public async Task A_push_on_the_connection_that_carried_a_busy_refusal_goes_through_every_time()
    {
        var limits = new ServerLimits { MaxMessageBytes = 64 << 10, MaxInflightPushBytes = 1 << 20 };
        const int length = 200_000;   // 864,000 bytes reserved: one push holds the 1 MiB budget
        long reservation = limits.PushReservation(length);
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0, length), limits: limits);
        await using var client = new GrpcShardClient(server.Address, server.Auth, new ShardClientOptions { ChunkBytes = ChunkFloats * sizeof(float) });
        var gradient = new float[length];
        var header = new PushHeader(0, 0, 0, 1, 0);

        for (var round = 1; round <= 30; round++)
        {
            var stalled = await HoldBudgetAsync(server, client, header, gradient, streams: 1, reservation);
            var busy = await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(header, gradient, CancellationToken.None));
            Assert.Contains("server busy", busy.Message);
            await ReleaseAsync(stalled, client);

            var outcome = await client.PushAsync(header, gradient, CancellationToken.None);

            Assert.True(outcome.IsApplied, $"round {round}");
            Assert.Equal(round, server.Shard.Pushes.Count);
        }
        Assert.Equal(30, (await client.StatusAsync(CancellationToken.None)).PushesRefusedBusy);
    }

    [Fact]
    public async Task A_budget_below_one_push_of_the_shard_is_refused_at_start()
    {
        var limits = new ServerLimits { MaxInflightPushBytes = 1 << 20 };   // one push: 400 KB of shard + 4 MiB of chunk

        var e = await Assert.ThrowsAsync<ArgumentException>(() => LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits));

        Assert.Contains("below one push of this shard", e.Message);
    }

    /// <summary>Opens <paramref name="streams"/> push streams on connections of their own, each stalled after its first chunk, holding their reservations.</summary>
    private static async Task<List<(GrpcChannel Channel, AsyncClientStreamingCall<PushChunkFrame, PushReply> Call)>> HoldBudgetAsync(
        LoopbackServer server, GrpcShardClient client, PushHeader header, float[] gradient, int streams, long reservation)
    {
        var stalled = new List<(GrpcChannel, AsyncClientStreamingCall<PushChunkFrame, PushReply>)>();
        for (var i = 1; i <= streams; i++)
        {
            var channel = GrpcChannel.ForAddress(server.Address);
            var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, server.CallOptions());
            await call.RequestStream.WriteAsync(new PushChunkFrame(header, 0, gradient.AsMemory(0, ChunkFloats)));
            stalled.Add((channel, call));
            await InflightPushBytes.ReachAsync(client, i * reservation);
        }
        return stalled;
    }

    /// <summary>Resets the stalled streams (the server's read fails and each push lets go of its share) and waits until the budget is empty.</summary>
    private static async Task ReleaseAsync(List<(GrpcChannel Channel, AsyncClientStreamingCall<PushChunkFrame, PushReply> Call)> stalled, GrpcShardClient client)
    {
        foreach (var (channel, call) in stalled)
        {
            call.Dispose();
            channel.Dispose();
        }
        await InflightPushBytes.ReachAsync(client, 0);
    }
}
