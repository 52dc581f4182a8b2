using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// Issue 15, item 2, over real loopback gRPC: a push in pieces whose first piece has arrived holds its shard-sized
/// buffer in the server's in-flight push budget (the status shows it), a second worker's push in pieces that does not fit
/// beside it is refused busy, and the room comes back when the first push completes, so the refused one then goes through.
/// </summary>
public class PieceBudgetLoopbackTests
{
    [Fact]
    public async Task An_incomplete_push_in_pieces_holds_its_buffer_in_the_push_budget_and_one_past_it_is_refused_busy_until_it_completes()
    {
        var limits = new ServerLimits { MaxMessageBytes = 64 << 10, MaxInflightPushBytes = 1 << 20 };
        const int Length = FakeShard.DefaultLength, Half = Length / 2;
        long buffer = Length * sizeof(float);   // 400,012 bytes: one fits beside a piece's stream (465,548 reserved while it lasts), two do not
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits);
        await using var client = new GrpcShardClient(server.Address, server.Auth, new ShardClientOptions { ChunkBytes = 16_000 * sizeof(float) });
        var gradient = Enumerable.Range(0, Length).Select(i => (float)i).ToArray();
        Task<PushOutcome> Piece(int worker, int offset, int length) =>
            client.PushAsync(new PushHeader(worker, 0, 0, 1, 0, Piece: new PieceRange(offset, length)), gradient.AsMemory(offset, length), CancellationToken.None);

        Assert.True((await Piece(0, 0, Half)).IsApplied);
        var held = await client.StatusAsync(CancellationToken.None);
        var busy = await Assert.ThrowsAsync<ShardException>(() => Piece(1, 0, Half));
        Assert.True((await Piece(0, Half, Length - Half)).IsApplied);   // completes worker 0's push: handed to the shard whole
        var released = await client.StatusAsync(CancellationToken.None);
        Assert.True((await Piece(1, 0, Half)).IsApplied);

        Assert.Equal(buffer, held.InflightPushBytes);
        Assert.Equal(ShardErrorKind.Unavailable, busy.Kind);   // transient: a GpuPs worker retries it
        Assert.Contains("incomplete pushes in pieces", busy.Message);
        Assert.Equal((0L, 1L), (released.InflightPushBytes, released.PushesRefusedBusy));
        var (header, whole) = Assert.Single(server.Shard.Pushes);
        Assert.Equal((0, (PieceRange?)null), (header.WorkerId, header.Piece));
        Assert.Equal(gradient, whole);
    }
}
