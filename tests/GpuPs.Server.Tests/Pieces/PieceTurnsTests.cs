using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Server.Pieces;
using GpuPs.Tests.Shared;
using Serilog;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// The push turns of pieces through the pieces' shard (the shard both edges serve through): on a shard that closes per
/// range, each piece asks for, and goes on under, its own range's turn, exactly as on the shard it wraps.
/// </summary>
public class PieceTurnsTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private static PushTurnRequest Request(int worker, long step, PieceRange piece) =>
        new() { WorkerId = worker, Step = step, Order = -1, Partition = -1, PieceOffset = piece.Offset, PieceLength = piece.Length };

    [Fact]
    public async Task On_a_shard_that_closes_per_range_each_piece_asks_for_and_goes_on_under_its_own_range_s_turn()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 1, steps: 10) with { Schedule = PushSchedule.RoundRobin, PushConcurrency = 2, PieceFloats = 4 },
            time: new ManualTimeProvider());
        var shard = new PieceAssemblingShard(inner, Log.Logger);
        RegisterAll(shard, 1);
        var ranges = shard.ClosingRanges!;   // [0, 4) [4, 7) [7, 8)

        Assert.True((await shard.AwaitPushTurnAsync(Request(0, 0, ranges[0]), CancellationToken.None).WaitAsync(Guard)).Granted);
        Assert.True((await shard.AwaitPushTurnAsync(Request(0, 0, ranges[1]), CancellationToken.None).WaitAsync(Guard)).Granted);
        Assert.Equal(2, inner.Turns!.InFlight);   // two turns: one per range, not the same push's turn asked twice

        var lease = await shard.WaitForSlotAsync(new PushHeader(0, 0, 0, 2, 1.0, Piece: ranges[1]), CancellationToken.None).WaitAsync(Guard);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: ranges[0]), new float[4]).IsApplied);   // range 0's push ends range 0's turn
        Assert.Equal(1, inner.Turns.InFlight);
        lease.End();   // range 1's edge is done: exactly range 1's turn ends
        Assert.Equal(0, inner.Turns.InFlight);
    }
}
