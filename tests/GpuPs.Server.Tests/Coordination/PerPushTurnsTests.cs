using GpuPs.Tests.Shared;
using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Per-push turns (<see cref="PushTurns"/> with <c>perPush</c>: ASP and SSP, R2SP as the paper runs it) on a manual
/// clock: turns go round by round in the order, a worker that asks for its next push early waits for the round behind
/// it, workers whose clocks differ are served from the one behind without deadlock, a late or dead worker is passed
/// after the bound once and not waited for again, and never more than the concurrency hold a turn.
/// </summary>
public class PerPushTurnsTests
{
    private PushTurns Turns(int workers, int concurrency = 1)
    {
        var turns = new PushTurns(workers, 1, concurrency, _time, perPush: true);
        for (int w = 0; w < workers; w++) turns.OnMembershipChanged(new MembershipChange(0, w, MembershipEvent.Registered, 0));
        return turns;
    }

    private bool Ask(PushTurns turns, int worker, long step, int order = -1) => Try(turns, worker, step, out _, order) == TurnAnswer.Granted;

    private TurnAnswer Try(PushTurns turns, int worker, long step, out TimeSpan recheck, int order = -1)
    {
        var key = new TurnKey(worker, step, 0);
        long ticket = _tickets.GetValueOrDefault(key);
        var answer = turns.TryBegin(key, order, sending: false, ref ticket, out _, out recheck);
        if (answer == TurnAnswer.Granted) _tickets.Remove(key);
        else _tickets[key] = ticket;
        return answer;
    }

    private readonly ManualTimeProvider _time = new();
    private readonly Dictionary<TurnKey, long> _tickets = [];   // each push's request, as an edge keeps it while it waits

    [Fact]
    public void Turns_go_round_by_round_in_the_order_and_an_early_next_push_waits_for_the_round_behind_it()
    {
        var turns = Turns(workers: 3);
        int[] rank = [1, 2, 0];   // the coordinator's order: worker 2, 0, 1
        var granted = new List<(int Worker, long Step)>();
        long[] clock = new long[3];
        int[] waiting = [1, 2, 0];
        while (granted.Count < 9)
        {
            // Everyone asks for its next push (a worker whose push was applied asks at once: its compute is instant
            // here), twice (the shards learn each worker's place in the order from its requests); then the turn ends.
            int? holder = null;
            for (int pass = 0; pass < 2 && holder is null; pass++)
                foreach (int w in waiting)
                    if (Ask(turns, w, clock[w], rank[w]))
                    {
                        Assert.Null(holder);   // concurrency 1
                        holder = w;
                        granted.Add((w, clock[w]));
                    }
            Assert.NotNull(holder);
            Assert.Equal(1, turns.InFlight);
            turns.Complete(new TurnKey(holder.Value, clock[holder.Value], 0));
            clock[holder.Value]++;
        }

        Assert.Equal([(2, 0L), (0, 0L), (1, 0L), (2, 1L), (0, 1L), (1, 1L), (2, 2L), (0, 2L), (1, 2L)], granted);
        Assert.Equal((9L, 1, 0L), (turns.Granted, turns.Peak, turns.Passed));
    }

    [Fact]
    public void Workers_whose_clocks_differ_are_served_from_the_one_behind_without_deadlock()
    {
        var turns = Turns(workers: 3);
        Assert.False(Ask(turns, 0, step: 5));   // worker 0 is ahead (ASP lets it); workers 1 and 2 are at round 2
        Assert.False(Ask(turns, 2, step: 2));
        Assert.True(Ask(turns, 1, step: 2));
        turns.Complete(new TurnKey(1, 2, 0));
        Assert.False(Ask(turns, 0, step: 5));
        Assert.True(Ask(turns, 2, step: 2));
        turns.Complete(new TurnKey(2, 2, 0));
        Assert.False(Ask(turns, 0, step: 5));    // rounds 3 and 4 of workers 1 and 2 come first: it waits for them
        Assert.True(Ask(turns, 1, step: 3));
        turns.Complete(new TurnKey(1, 3, 0));

        // Workers 1 and 2 stop asking (they compute long): worker 0 is not held back by them for more than the bound.
        Assert.Equal(TurnAnswer.Wait, Try(turns, 0, 5, out var recheck));
        Assert.Equal(turns.PassAfter, recheck);
        _time.Advance(turns.PassAfter);
        Assert.True(Ask(turns, 0, step: 5));
        Assert.Equal(2, turns.Passed);
    }

    [Fact]
    public void A_dead_worker_is_passed_once_after_the_bound_and_not_waited_for_in_the_next_rounds_until_it_asks()
    {
        var turns = Turns(workers: 3);
        // Worker 2 registered and died before its first push: it never asks.
        for (long round = 0; round < 3; round++)
        {
            Assert.True(Ask(turns, 0, round));
            turns.Complete(new TurnKey(0, round, 0));
            Assert.True(Ask(turns, 1, round));
            turns.Complete(new TurnKey(1, round, 0));
            if (round == 0)
            {
                // Worker 0's next push (round 1) comes after worker 2's turn of round 0: passed after the bound.
                Assert.Equal(TurnAnswer.Wait, Try(turns, 0, 1, out var recheck));
                Assert.Equal(turns.PassAfter, recheck);
                _time.Advance(turns.PassAfter);
            }
        }
        Assert.Equal(1, turns.Passed);   // once, not once a round

        // It comes back (a restarted worker at its clock, 0): it goes at the next free turn, before the others.
        Assert.True(Ask(turns, 0, step: 3));
        Assert.False(Ask(turns, 2, step: 0));
        Assert.False(Ask(turns, 1, step: 3));
        turns.Complete(new TurnKey(0, 3, 0));
        Assert.False(Ask(turns, 1, step: 3));
        Assert.True(Ask(turns, 2, step: 0));
    }

    [Fact]
    public void An_evicted_worker_is_not_waited_for_at_all()
    {
        var turns = Turns(workers: 2);
        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 0));
        Assert.True(Ask(turns, 1, step: 0));
        turns.Complete(new TurnKey(1, 0, 0));
        Assert.True(Ask(turns, 1, step: 1));
        Assert.Equal(0, turns.Passed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Never_more_than_the_concurrency_hold_a_turn(int concurrency)
    {
        var turns = Turns(workers: 4, concurrency);
        long[] clock = new long[4];
        var held = new Queue<int>();
        for (int done = 0; done < 12; done++)
        {
            for (int w = 0; w < 4; w++)
                if (!held.Contains(w) && Ask(turns, w, clock[w])) held.Enqueue(w);
            Assert.Equal(concurrency, turns.InFlight);
            int w0 = held.Dequeue();
            turns.Complete(new TurnKey(w0, clock[w0], 0));
            clock[w0]++;
        }
        Assert.Equal(concurrency, turns.Peak);
    }

    [Fact]
    public void The_bounds_follow_each_round_of_n_turns_without_a_deal()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0, 0));
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(0, 0, 0));
        Assert.Equal((PushTurns.DefaultPassAfter, TimeSpan.FromSeconds(2)), (turns.PassAfter, turns.Expiry));   // one turn of a round of two

        Assert.True(Ask(turns, 1, 0));
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(1, 0, 0));
        Assert.Equal((TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(3200)), (turns.PassAfter, turns.Expiry));
    }

    [Fact]
    public void A_turn_that_lapsed_before_its_first_byte_is_timed_from_its_first_grant_when_taken_again()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0, 0));   // worker 0's turn, granted at 0 s; no byte comes
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(Ask(turns, 1, 0));   // worker 0's turn expired (2 s): worker 1 takes the link
        Assert.Equal(TurnAnswer.Wait, Try(turns, 0, 0, out _));   // worker 0 asks again for the same push
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(1, 0, 0));
        Assert.True(Ask(turns, 0, 0));
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(0, 0, 0));

        // The round's turns took 0.4 s and 2.8 s (worker 0's from its first grant, not 0.4 s from its second): eight medians.
        Assert.Equal(22.4, turns.Expiry.TotalSeconds, 6);
    }

    [Fact]
    public void A_lapsed_turn_taken_again_after_a_round_was_measured_is_timed_from_its_new_grant()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0, 0));   // worker 0's turn, granted at 0 s; no byte comes
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(Ask(turns, 1, 0));   // worker 0's turn expired: worker 1 takes the link
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(1, 0, 0));
        Assert.Equal(TurnAnswer.Wait, Try(turns, 1, 1, out _));   // worker 0's round-1 turn comes first: passed after the bound
        _time.Advance(PushTurns.DefaultPassAfter);
        Assert.True(Ask(turns, 1, 1));
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(1, 1, 0));   // a round of two turns of 0.4 s: measured
        Assert.Equal(TimeSpan.FromMilliseconds(3200), turns.Expiry);

        Assert.True(Ask(turns, 0, 0));   // worker 0 asks again for its lapsed push, a round later
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(0, 0, 0));
        Assert.True(Ask(turns, 1, 2));   // worker 0 was passed at round 1: not waited for again
        _time.Advance(TimeSpan.FromMilliseconds(400));
        turns.Complete(new TurnKey(1, 2, 0));

        Assert.Equal(TimeSpan.FromMilliseconds(3200), turns.Expiry);   // 0.4 s from its new grant, not 3.2 s from the lapsed one
    }

    [Fact]
    public void Per_push_turns_are_of_whole_pushes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PushTurns(2, 3, 1, _time, perPush: true));
    }
}
