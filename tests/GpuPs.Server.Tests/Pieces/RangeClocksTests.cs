using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// The per-range rule's bookkeeping as the shard's status shows it: a worker's clock is the oldest step it has not pushed
/// every range of, a range opens its next step on its own (a piece of it is taken while another range still waits), a
/// piece for a step its range has not opened is refused, and after the last step every piece is answered Finished.
/// </summary>
public class RangeClocksTests
{
    private static PushOutcome Push(ParameterShard shard, int worker, long step, PieceRange range) =>
        shard.Push(new PushHeader(worker, step, 0, 2, 1.0, Piece: range), (worker == 0 ? PieceFixture.Gradient0 : PieceFixture.Gradient1).AsSpan(range.Offset, range.Length));

    private static long Clock(ParameterShard shard, int worker) => shard.Status().Workers.Single(w => w.WorkerId == worker).Clock;

    [Fact]
    public void A_worker_s_clock_moves_once_it_pushed_every_range_of_a_step_and_each_range_opens_the_next_step_on_its_own()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 2) with { PieceFloats = 4 }, Filled(1f));
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;   // [0, 4) [4, 7) [7, 8)

        Assert.True(Push(shard, 0, 0, ranges[2]).IsApplied);
        Assert.True(Push(shard, 0, 0, ranges[0]).IsApplied);
        Assert.Equal(0, Clock(shard, 0));   // range 1 of step 0 not pushed yet

        // Worker 1's piece closes range 0 of step 0: range 0 takes step 1's pieces while ranges 1 and 2 still wait for step 0's.
        Assert.True(Push(shard, 1, 0, ranges[0]).IsApplied);
        Assert.True(Push(shard, 0, 1, ranges[0]).IsApplied);
        AssertOutcome(PushOutcomeKind.Refused, "is still at step 0", Push(shard, 0, 1, ranges[1]));
        Assert.Equal((0L, 0L, 0L), (Clock(shard, 0), Clock(shard, 1), shard.Status().Step));
        // Worker 0's last piece of step 0: its clock is step 1, not 2, though it pushed range 0 of step 1 too.
        Assert.True(Push(shard, 0, 0, ranges[1]).IsApplied);
        Assert.Equal((1L, 0L), (Clock(shard, 0), Clock(shard, 1)));

        Assert.True(Push(shard, 1, 0, ranges[1]).IsApplied);
        Assert.True(Push(shard, 1, 0, ranges[2]).IsApplied);
        Assert.Equal((1L, 1L), (shard.Status().Step, Clock(shard, 1)));
        Assert.True(Push(shard, 0, 1, ranges[1]).IsApplied);
        Assert.True(Push(shard, 0, 1, ranges[2]).IsApplied);
        Assert.Equal(2, Clock(shard, 0));
        foreach (var range in ranges) Assert.True(Push(shard, 1, 1, range).IsApplied);

        var status = shard.Status();
        Assert.Equal((2L, true), (status.Step, status.Finished));
        Assert.Equal([2L, 2L], status.Workers.Select(w => w.Clock));
        Assert.False(Push(shard, 0, 2, ranges[0]).IsApplied);
    }
}
