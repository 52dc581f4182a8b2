using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// The shard's side of the push turns (<see cref="ParameterShard.AwaitPushTurnAsync"/>, <see cref="ParameterShard.WaitForSlotAsync"/>,
/// and the turn a push ends), on a real <see cref="ParameterShard"/> of a round-robin job, a manual clock and no socket:
/// turns in the coordinator's order and never more than the push concurrency at once (the shard's own turn counts), a
/// request answered closed for a step or range that closed without it and held for one not open yet, a turn freed by its
/// push whether the shard applies it, refuses it or finds it malformed, a waiting request given up when its caller is
/// cancelled, and the pushes that take no turn. With per-push turns (SSP, ASP): a push the staleness bound would refuse
/// waits for the slowest worker's push instead of taking a turn (so that worker is never passed over for it), and one
/// after the worker's last step or the job's end is answered Finished.
/// </summary>
public class ShardPushTurnTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);
    private readonly ManualTimeProvider _time = new();

    private ParameterShard RoundRobin(int workers, int concurrency = 1, long steps = 10, SyncMode mode = SyncMode.Bsp, int pieceFloats = 0, int staleness = 0)
    {
        var shard = Create(Job(mode, workers, steps, staleness) with { Schedule = PushSchedule.RoundRobin, PushConcurrency = concurrency, PieceFloats = pieceFloats },
            time: _time);
        RegisterAll(shard, workers);
        return shard;
    }

    private static Task<PushTurnReply> Ask(ParameterShard shard, int worker, long step, int order = -1, PieceRange? piece = null, int partition = -1,
        CancellationToken cancellationToken = default) =>
        shard.AwaitPushTurnAsync(new PushTurnRequest
        {
            WorkerId = worker, Step = step, Order = order, Partition = partition,
            PieceOffset = piece?.Offset ?? 0, PieceLength = piece?.Length ?? 0,
        }, cancellationToken);

    private static PushOutcome PushWhole(ParameterShard shard, int worker, long step) =>
        shard.Push(new PushHeader(worker, step, 0, 2, 1.0), Filled(worker + 1f));

    /// <summary>Waits (a hang guard, not a timing assertion) until <paramref name="shard"/>'s turns hold <paramref name="waiting"/> requests.</summary>
    private static async Task UntilWaiting(ParameterShard shard, int waiting)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (shard.Turns!.Waiting != waiting) await Task.Delay(1, guard.Token);
    }

    /// <summary>Moves the manual clock a millisecond at a time until <paramref name="task"/> completes (a request sleeping on the shard's clock).</summary>
    private async Task<T> AdvanceUntil<T>(Task<T> task)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!task.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Delay(1, guard.Token);
        }
        return await task;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Requests_are_granted_in_the_coordinator_s_order_never_more_than_the_concurrency_and_each_push_frees_its_turn(int concurrency)
    {
        using var shard = RoundRobin(workers: 4, concurrency);
        int[] order = [3, 1, 0, 2];   // the coordinator's order: worker 2, 1, 3, 0
        // Step 0: each worker tells its place with its request (the ones not told yet are passed on the clock).
        foreach (int w in new[] { 2, 1, 3, 0 })
        {
            Assert.True((await AdvanceUntil(Ask(shard, w, 0, order[w]))).Granted);
            Assert.True(PushWhole(shard, w, 0).IsApplied);
        }
        long passed = shard.Status().PushTurnsPassed;

        // Step 1: they ask by id, the order as last told (-1); the turns go in the coordinator's order.
        var requests = Enumerable.Range(0, 4).Select(w => (Worker: w, Reply: Ask(shard, w, 1))).ToList();
        var granted = new List<int>();
        while (granted.Count < 4)
        {
            using var guard = new CancellationTokenSource(Guard);
            while (requests.Count(r => r.Reply.IsCompleted) < Math.Min(concurrency, requests.Count)) await Task.Delay(1, guard.Token);
            Assert.InRange(shard.Turns!.InFlight, 1, concurrency);
            var done = requests.Where(r => r.Reply.IsCompleted).ToList();
            Assert.Equal(Math.Min(concurrency, requests.Count), done.Count);
            // The first granted in the order pushes; its turn frees and the next waiting one gets it.
            var first = done.MinBy(r => order[r.Worker]);
            var reply = await first.Reply;
            Assert.Equal((true, false, 1L), (reply.Granted, reply.Closed, reply.Step));
            granted.Add(first.Worker);
            requests.Remove(first);
            Assert.True(PushWhole(shard, first.Worker, 1).IsApplied);
        }

        Assert.Equal([2, 1, 3, 0], granted);
        var status = shard.Status();
        Assert.Equal((2L, 8L, concurrency, passed), (status.Step, status.PushTurnsGranted, status.PushTurnsPeak, status.PushTurnsPassed));
        Assert.Equal(0, shard.Turns!.InFlight);
    }

    [Fact]
    public async Task A_request_for_a_step_that_closed_or_a_finished_job_is_answered_closed_and_one_for_a_step_not_open_yet_waits_for_it()
    {
        using var shard = RoundRobin(workers: 2, steps: 2);
        var ahead = Ask(shard, 0, 1);   // step 1 is not open yet
        Assert.True((await Ask(shard, 0, 0)).Granted);
        Assert.True(PushWhole(shard, 0, 0).IsApplied);
        Assert.True((await Ask(shard, 1, 0).WaitAsync(Guard)).Granted);
        Assert.False(ahead.IsCompleted);
        Assert.True(PushWhole(shard, 1, 0).IsApplied);   // step 0 closes: step 1's turns are dealt

        var granted = await ahead.WaitAsync(Guard);
        Assert.Equal((true, false, 1L), (granted.Granted, granted.Closed, granted.Step));
        var late = await Ask(shard, 1, 0);
        Assert.Equal((false, true, 1L), (late.Granted, late.Closed, late.Step));

        Assert.True(PushWhole(shard, 0, 1).IsApplied);
        Assert.True((await Ask(shard, 1, 1).WaitAsync(Guard)).Granted);
        Assert.True(PushWhole(shard, 1, 1).IsApplied);   // the last step: the job finished
        var finished = await Ask(shard, 0, 2);
        Assert.Equal((false, true, 2L), (finished.Granted, finished.Closed, finished.Step));
    }

    [Fact]
    public async Task A_worker_that_has_not_asked_is_passed_on_the_shard_s_clock_and_the_reply_says_how_long_the_request_waited()
    {
        using var shard = RoundRobin(workers: 3);
        var second = Ask(shard, 1, 0);   // worker 0, first in the order, is still computing
        await UntilWaiting(shard, 1);
        var reply = await AdvanceUntil(second);

        Assert.True(reply.Granted);
        Assert.InRange(reply.WaitedUs, (long)PushTurns.DefaultPassAfter.TotalMicroseconds, long.MaxValue);
        Assert.Equal((1L, 1L), (shard.Status().PushTurnsPassed, shard.Status().PushTurnsGranted));
        var third = Ask(shard, 2, 0);   // worker 0 is known late now: worker 2 waits only for the turn in flight
        await UntilWaiting(shard, 1);
        Assert.True(PushWhole(shard, 1, 0).IsApplied);
        Assert.Equal(0, (await third.WaitAsync(Guard)).WaitedUs);
    }

    [Fact]
    public async Task A_turn_frees_when_its_push_is_refused_or_malformed_and_no_push_takes_a_turn_it_does_not_hold()
    {
        using var shard = RoundRobin(workers: 2, steps: 3);
        Assert.True((await Ask(shard, 0, 0)).Granted);
        var next = Ask(shard, 1, 0);
        await UntilWaiting(shard, 1);
        // A malformed push (the wrong length) is refused with an error, and still ends its worker's turn.
        AssertError(ShardErrorKind.InvalidRequest, "gradient has 3 values", () => shard.Push(new PushHeader(0, 0, 0, 2, 1.0), new float[3]));
        Assert.True((await next.WaitAsync(Guard)).Granted);
        Assert.Equal(1, shard.Turns!.InFlight);

        Assert.True(PushWhole(shard, 1, 0).IsApplied);
        Assert.Equal(0, shard.Turns.InFlight);
        // A push that is refused (a duplicate of worker 1's) ends the turn its worker holds for that key, nothing else.
        Assert.True((await Ask(shard, 0, 0).WaitAsync(Guard)).Granted);
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed", PushWhole(shard, 1, 0));
        Assert.Equal(1, shard.Turns.InFlight);
        Assert.True(PushWhole(shard, 0, 0).IsApplied);
        Assert.Equal(0, shard.Turns.InFlight);
        Assert.Equal(1, shard.Status().Step);
        Assert.Equal(1, shard.Status().PushTurnsPeak);
    }

    [Fact]
    public async Task A_waiting_request_whose_caller_is_cancelled_gives_its_place_up()
    {
        using var shard = RoundRobin(workers: 3);
        Assert.True((await Ask(shard, 0, 0)).Granted);
        using var cancel = new CancellationTokenSource();
        var cancelled = Ask(shard, 1, 0, cancellationToken: cancel.Token);
        await UntilWaiting(shard, 1);
        var third = Ask(shard, 2, 0);
        await UntilWaiting(shard, 2);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Guard));
        await UntilWaiting(shard, 1);
        Assert.True(PushWhole(shard, 0, 0).IsApplied);
        // Worker 1's request is gone: its turn is passed after the bound like any absent worker's, and worker 2 pushes.
        Assert.True((await AdvanceUntil(third)).Granted);
        Assert.Equal(1, shard.Status().PushTurnsPassed);
        Assert.Equal(0, shard.Turns!.Waiting);
    }

    [Fact]
    public async Task A_push_granted_before_its_first_byte_goes_on_under_that_turn_and_one_sent_without_asking_waits_for_a_turn_of_its_own()
    {
        using var shard = RoundRobin(workers: 2);
        var asked = await Ask(shard, 0, 0);
        Assert.True(asked.Granted);
        var lease = await shard.WaitForSlotAsync(new PushHeader(0, 0, 0, 2, 1.0), CancellationToken.None);
        Assert.NotSame(PushTurnLease.None, lease);
        Assert.NotEqual(0, lease.Turn);
        Assert.Equal(1, shard.Turns!.InFlight);

        // Worker 1 sends without asking: its edge holds the push, bytes unread, until worker 0's turn ends.
        var unasked = shard.WaitForSlotAsync(new PushHeader(1, 0, 0, 2, 1.0), CancellationToken.None);
        await UntilWaiting(shard, 1);
        Assert.False(unasked.IsCompleted);
        lease.End();   // worker 0's call ended without the shard having its push (the stream broke)
        var second = await unasked.WaitAsync(Guard);
        Assert.NotEqual(lease.Turn, second.Turn);
        Assert.NotEqual(0, second.Turn);
        Assert.Equal(1, shard.Turns.InFlight);
        second.Arrived();
        Assert.True(PushWhole(shard, 1, 0).IsApplied);
        second.End();
        Assert.Equal(0, shard.Turns.InFlight);
        Assert.Equal(2, shard.Status().PushTurnsGranted);
    }

    [Fact]
    public async Task Pushes_of_unknown_workers_node_aggregators_and_pieces_outside_the_shard_take_no_turn()
    {
        using var shard = RoundRobin(workers: 2);
        Assert.True((await Ask(shard, 0, 0)).Granted);   // the only turn is held
        Assert.Same(PushTurnLease.None, await shard.WaitForSlotAsync(new PushHeader(2, 0, 0, 2, 1.0), CancellationToken.None).WaitAsync(Guard));
        Assert.Same(PushTurnLease.None, await shard.WaitForSlotAsync(new PushHeader(-1, 0, 0, 2, 1.0), CancellationToken.None).WaitAsync(Guard));
        Assert.Same(PushTurnLease.None, await shard.WaitForSlotAsync(
            new PushHeader(1, 0, 0, 4, 2.0, Contributors: new ContributorList([1, 0])), CancellationToken.None).WaitAsync(Guard));
        Assert.Same(PushTurnLease.None, await shard.WaitForSlotAsync(
            new PushHeader(1, 0, 0, 2, 1.0, Piece: new PieceRange(6, 4)), CancellationToken.None).WaitAsync(Guard));
        Assert.Equal(1, shard.Turns!.InFlight);

        using var simultaneous = Create(Job(SyncMode.Bsp, 2, 10), time: _time);
        RegisterAll(simultaneous, 2);
        Assert.Null(simultaneous.Turns);
        Assert.Same(PushTurnLease.None, await simultaneous.WaitForSlotAsync(new PushHeader(1, 0, 0, 2, 1.0), CancellationToken.None));
        var free = await Ask(simultaneous, 1, 3);
        Assert.Equal((true, false, 3L), (free.Granted, free.Closed, free.Step));
    }

    [Fact]
    public async Task A_worker_not_registered_is_refused_a_turn_request_and_its_unasked_push_takes_none()
    {
        using var shard = Create(Job(SyncMode.Bsp, 2, 10) with { Schedule = PushSchedule.RoundRobin }, time: _time);
        shard.Register(new RegisterRequest { RequestedWorkerId = 0 });
        var e = await Assert.ThrowsAsync<ShardException>(() => Ask(shard, 1, 0));
        Assert.Equal(ShardErrorKind.UnknownWorker, e.Kind);
        Assert.Same(PushTurnLease.None, await shard.WaitForSlotAsync(new PushHeader(1, 0, 0, 2, 1.0), CancellationToken.None).WaitAsync(Guard));
        Assert.Equal(0, shard.Turns!.Waiting);
        Assert.True((await Ask(shard, 0, 0)).Granted);
    }

    [Fact]
    public async Task On_a_shard_that_closes_per_range_each_range_is_its_own_turn_and_a_range_that_closed_answers_closed()
    {
        using var shard = RoundRobin(workers: 2, pieceFloats: 4);
        var ranges = shard.ClosingRanges!;   // [0, 4) [4, 7) [7, 8)
        Assert.Equal(3, ranges.Count);
        Assert.True((await Ask(shard, 0, 0, piece: ranges[0])).Granted);
        var range1 = Ask(shard, 0, 0, piece: ranges[1]);   // worker 1's range 0 goes first
        await UntilWaiting(shard, 1);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: ranges[0]), new float[4]).IsApplied);
        Assert.False(range1.IsCompleted);
        Assert.True((await Ask(shard, 1, 0, piece: ranges[0]).WaitAsync(Guard)).Granted);
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 2, 1.0, Piece: ranges[0]), new float[4]).IsApplied);   // range 0 closes
        Assert.True((await range1.WaitAsync(Guard)).Granted);

        var closed = await Ask(shard, 1, 0, piece: ranges[0]);   // range 0 is at step 1 now, the shard still at step 0
        Assert.Equal((false, true, 1L), (closed.Granted, closed.Closed, closed.Step));
        Assert.Equal(0, shard.Status().Step);
        // A piece that the edge reads only with its values goes on under its worker's unsent turn of the step.
        var lease = await shard.WaitForSlotAsync(new PushHeader(0, 0, 0, 2, 1.0), CancellationToken.None).WaitAsync(Guard);
        Assert.NotEqual(0, lease.Turn);
        Assert.Equal(1, shard.Turns!.InFlight);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: ranges[1]), new float[3]).IsApplied);
        Assert.Equal(0, shard.Turns.InFlight);
        lease.End();
        Assert.Equal(0, shard.Turns.InFlight);
    }

    [Fact]
    public async Task In_multi_message_each_partition_of_a_worker_s_step_holds_its_own_turn()
    {
        using var shard = RoundRobin(workers: 2, concurrency: 2, mode: SyncMode.MultiMessage);
        Assert.True((await Ask(shard, 0, 0, partition: 0)).Granted);
        Assert.True((await Ask(shard, 1, 0, partition: 1)).Granted);
        Assert.Equal(2, shard.Turns!.InFlight);
        var third = Ask(shard, 0, 0, partition: 1);   // worker 0's second message: a turn of its own, after the two held
        await UntilWaiting(shard, 1);
        Assert.True((await Ask(shard, 0, 0, partition: 0)).Granted);   // a retry of the held partition's request: the same turn
        Assert.Equal(2, shard.Turns.InFlight);
        shard.Turns.Complete(new TurnKey(1, 0, 0, 1));
        Assert.True((await third.WaitAsync(Guard)).Granted);
        Assert.Equal(2, shard.Turns.InFlight);
    }

    [Fact]
    public async Task A_push_the_staleness_bound_refuses_waits_for_the_slowest_worker_and_never_passes_it()
    {
        using var shard = RoundRobin(workers: 2, mode: SyncMode.Ssp);
        Assert.True((await Ask(shard, 0, 0, order: 0).WaitAsync(Guard)).Granted);
        Assert.True(PushWhole(shard, 0, 0).IsApplied);

        // Worker 0 asks for its step 1 without pulling: with s = 0 it may not push before worker 1's step 0.
        var ahead = Ask(shard, 0, 1);
        Assert.Equal(0, shard.Turns!.Waiting);   // not queued for a turn: it waits for a step, as a pull would
        _time.Advance(shard.Turns.PassAfter * 3);   // long past the bound after which a late worker is passed
        var slowest = await Ask(shard, 1, 0, order: 1).WaitAsync(Guard);
        Assert.True(slowest.Granted);             // the link is free for the worker SSP waits for
        Assert.False(ahead.IsCompleted);
        Assert.Equal(0, shard.Status().PushTurnsPassed);

        Assert.True(PushWhole(shard, 1, 0).IsApplied);
        var granted = await ahead.WaitAsync(Guard);
        Assert.Equal((true, false, 1L), (granted.Granted, granted.Finished, granted.Step));
        Assert.True(PushWhole(shard, 0, 1).IsApplied);   // the push its turn was for is admitted, not refused by the bound
        var status = shard.Status();
        Assert.Equal((0L, 0L, 3L), (status.PushTurnsPassed, status.PushesRejected, status.PushTurnsGranted));
    }

    [Theory]
    [InlineData(SyncMode.Asp)]
    [InlineData(SyncMode.Ssp)]
    public async Task A_turn_after_the_worker_s_last_step_or_the_job_s_end_is_answered_finished(SyncMode mode)
    {
        using var shard = RoundRobin(workers: 2, steps: 1, mode: mode, staleness: 1);
        Assert.True((await Ask(shard, 0, 0, order: 0).WaitAsync(Guard)).Granted);
        Assert.True(PushWhole(shard, 0, 0).IsApplied);

        // Worker 0 ran its one step; worker 1 has not: the job goes on, but worker 0's next push is no push.
        var done = await Ask(shard, 0, 1).WaitAsync(Guard);
        Assert.Equal((false, true, 1L), (done.Granted, done.Finished, done.Step));

        Assert.True((await Ask(shard, 1, 0, order: 1).WaitAsync(Guard)).Granted);
        Assert.True(PushWhole(shard, 1, 0).IsApplied);   // the last push: the job finished
        Assert.True(shard.Status().Finished);
        var finished = await Ask(shard, 1, 1).WaitAsync(Guard);
        Assert.Equal((false, true), (finished.Granted, finished.Finished));
        Assert.Equal(0, shard.Status().PushesRejected);
    }
}
