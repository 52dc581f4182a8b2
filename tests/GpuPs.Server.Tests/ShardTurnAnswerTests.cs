using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// What the shard of a round-robin job answers a turn request (<see cref="ParameterShard.AwaitPushTurnAsync"/>) and a push
/// sent without one (<see cref="ParameterShard.WaitForSlotAsync"/>) at the edges of its rules: the request's piece
/// fields, a step the worker is not at, and a piece whose range holds no turn. A manual clock, no socket; the waits have
/// a hang guard, never a timing assertion.
/// </summary>
public class ShardTurnAnswerTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);
    private readonly ManualTimeProvider _time = new();

    private ParameterShard RoundRobin(SyncMode mode, int workers, int pieceFloats = 0)
    {
        var shard = Create(Job(mode, workers, steps: 5) with { Schedule = PushSchedule.RoundRobin, PushConcurrency = 1, PieceFloats = pieceFloats },
            time: _time);
        RegisterAll(shard, workers);
        return shard;
    }

    [Fact]
    public async Task A_request_s_piece_offset_counts_only_with_a_piece_length_and_a_piece_off_the_shard_is_refused()
    {
        using var shard = RoundRobin(SyncMode.Bsp, workers: 1);

        // No piece length: a whole push, whatever the (unset) offset field holds.
        var whole = await shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, PieceOffset = -1 }, CancellationToken.None);
        Assert.True(whole.Granted);
        var off = await Assert.ThrowsAsync<ShardException>(() =>
            shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, PieceOffset = 4, PieceLength = Length }, CancellationToken.None));
        Assert.Equal(ShardErrorKind.InvalidRequest, off.Kind);
    }

    [Fact]
    public async Task A_request_for_a_step_that_closed_is_answered_closed_not_finished()
    {
        using var shard = RoundRobin(SyncMode.Bsp, workers: 1);
        Assert.True((await shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0 }, CancellationToken.None)).Granted);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f)).ClosedStep);

        var late = await shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0 }, CancellationToken.None).WaitAsync(Guard);

        Assert.Equal((false, true, false, 1L), (late.Granted, late.Closed, late.Finished, late.Step));
    }

    [Fact]
    public async Task An_asp_request_for_a_step_past_the_worker_s_clock_is_answered_closed_with_its_clock()
    {
        using var shard = RoundRobin(SyncMode.Asp, workers: 2);

        // Worker 0 has pushed nothing: its next push is of step 0, and one of step 2 would be refused.
        var ahead = await shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 2 }, CancellationToken.None).WaitAsync(Guard);

        Assert.Equal((false, true, false, 0L), (ahead.Granted, ahead.Closed, ahead.Finished, ahead.Step));
    }

    [Fact]
    public async Task A_piece_sent_without_asking_waits_for_its_own_range_s_turn_and_takes_no_other_range_s()
    {
        using var shard = RoundRobin(SyncMode.Bsp, workers: 1, pieceFloats: 4);
        var ranges = shard.ClosingRanges!;
        var first = await shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, PieceOffset = ranges[0].Offset, PieceLength = ranges[0].Length },
            CancellationToken.None);
        Assert.True(first.Granted);   // the link's only turn: range 0's

        var second = shard.WaitForSlotAsync(new PushHeader(0, 0, 0, 1, 0, Piece: ranges[1]), CancellationToken.None);
        Assert.False(second.IsCompleted);   // range 1 holds no turn, and range 0's is not its to take

        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0, Piece: ranges[0]), new float[ranges[0].Length]).IsApplied);
        var lease = await second.WaitAsync(Guard);
        Assert.NotEqual(0, lease.Turn);
    }

    [Fact]
    public async Task On_a_shard_that_closes_per_range_a_later_range_s_turns_go_in_the_coordinator_s_order_not_first_come()
    {
        using var shard = RoundRobin(SyncMode.Bsp, workers: 2, pieceFloats: 4);
        var ranges = shard.ClosingRanges!;
        Task<PushTurnReply> Ask(int worker, PieceRange range, int order = -1) => shard.AwaitPushTurnAsync(
            new PushTurnRequest { WorkerId = worker, Step = 0, Order = order, PieceOffset = range.Offset, PieceLength = range.Length }, CancellationToken.None);
        PushOutcome Push(int worker, PieceRange range) => shard.Push(new PushHeader(worker, 0, 0, 1, 0, Piece: range), new float[range.Length]);

        // Range 0: worker 0 tells place 1 and takes the free link; worker 1 tells place 0 and waits for it.
        Assert.True((await Ask(0, ranges[0], order: 1).WaitAsync(Guard)).Granted);
        var second = Ask(1, ranges[0], order: 0);
        Assert.True(Push(0, ranges[0]).IsApplied);
        Assert.True((await second.WaitAsync(Guard)).Granted);

        // Range 1: worker 0 asks first, worker 1 after it, while worker 1's range-0 turn holds the link.
        var late = Ask(0, ranges[1]);
        var early = Ask(1, ranges[1]);
        Assert.False(late.IsCompleted || early.IsCompleted);
        Assert.True(Push(1, ranges[0]).IsApplied);

        Assert.True((await early.WaitAsync(Guard)).Granted);   // place 0 first
        Assert.False(late.IsCompleted);
        Assert.True(Push(1, ranges[1]).IsApplied);
        Assert.True((await late.WaitAsync(Guard)).Granted);
    }

    [Fact]
    public async Task The_turn_of_a_push_sent_without_asking_holds_the_link_while_it_is_sent_however_long()
    {
        using var shard = RoundRobin(SyncMode.Bsp, workers: 2);
        var sending = await shard.WaitForSlotAsync(new PushHeader(0, 0, 0, 1, 0), CancellationToken.None).WaitAsync(Guard);
        Assert.NotEqual(0, sending.Turn);
        var waiting = shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 1, Step = 0 }, CancellationToken.None);

        // Far past the turns' expiry (2 s) on the shard's clock: a turn being sent does not lapse, so worker 1 still waits.
        for (int i = 0; i < 50; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }
        Assert.False(waiting.IsCompleted);

        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f)).IsApplied);
        Assert.True((await waiting.WaitAsync(Guard)).Granted);
    }
}
