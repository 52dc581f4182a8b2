using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Who is woken and who goes next (<see cref="PushTurns"/>, a manual clock): a grant that leaves a turn free wakes the
/// waiting and one that fills the link does not; a request given up, or an eviction, wakes them; extra pushes (a worker's
/// second message of a step, a unit beyond the shard's ranges) go first come, first served behind the planned turns and
/// are not timed as planned ones; a worker that asked for a later range is still waited for on an earlier one; and a
/// request whose turn its edge took meanwhile leaves the queue when it asks again.
/// </summary>
public class PushTurnSignalTests
{
    private readonly ManualTimeProvider _time = new();

    private PushTurns Turns(int workers, int concurrency = 1, int units = 1) => PushTurnsTests.Registered(workers, concurrency, units, _time);

    private static TurnAnswer Try(PushTurns turns, TurnKey key, ref long ticket, out Task changed, bool sending = false, int order = -1) =>
        turns.TryBegin(key, order, sending, ref ticket, out changed, out _);

    private static bool Ask(PushTurns turns, TurnKey key)
    {
        long ticket = 0;
        return Try(turns, key, ref ticket, out _) == TurnAnswer.Granted;
    }

    [Fact]
    public void A_grant_that_leaves_a_turn_free_wakes_the_waiting_and_one_that_fills_the_link_does_not()
    {
        var turns = Turns(workers: 3, concurrency: 2);
        long t1 = 0, t2 = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), ref t1, out var woken1));   // worker 0, first, is absent
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        Assert.True(woken1.IsCompleted);   // one turn is still free: worker 1 is next

        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref t2, out var woken2));   // behind worker 1
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(1, 1, 0), ref t1, out _));
        Assert.False(woken2.IsCompleted);   // the link is full: nothing to wake for
    }

    [Fact]
    public void A_request_given_up_or_an_eviction_wakes_the_ones_behind_it()
    {
        var turns = Turns(workers: 3);
        long t1 = 0, t2 = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), ref t1, out _));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref t2, out var behind));
        turns.GiveUp(t1);
        Assert.True(behind.IsCompleted);
        Assert.Equal(1, turns.Waiting);
        turns.GiveUp(t1);   // again: nothing to give up, no wake-up

        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref t2, out behind));   // workers 0 and 1 are absent
        Assert.False(behind.IsCompleted);
        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 1));
        Assert.True(behind.IsCompleted);
        turns.OnMembershipChanged(new MembershipChange(0, 1, MembershipEvent.Evicted, 1));
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(2, 1, 0), ref t2, out _));
    }

    [Fact]
    public void Extra_pushes_go_first_come_first_served_behind_the_planned_turns()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0, Partition: 0)));
        long first = 0, second = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(0, 1, 0, Partition: 1), ref first, out _));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(0, 1, 0, Partition: 2), ref second, out _));
        turns.Complete(new TurnKey(0, 1, 0, Partition: 0));
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));   // worker 1's planned turn before both
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(0, 1, 0, Partition: 2), ref second, out _));
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(0, 1, 0, Partition: 1), ref first, out _));
        turns.Complete(new TurnKey(0, 1, 0, Partition: 1));
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(0, 1, 0, Partition: 2), ref second, out _));
    }

    [Fact]
    public void A_unit_beyond_the_shard_s_ranges_is_an_extra_push()
    {
        var turns = Turns(workers: 2, units: 2);
        long extra = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(0, 1, 2), ref extra, out _));   // behind every planned turn
        Assert.Equal(1, turns.Waiting);
        foreach (var key in new[] { new TurnKey(0, 1, 0), new TurnKey(1, 1, 0), new TurnKey(0, 1, 1), new TurnKey(1, 1, 1) })
        {
            Assert.True(Ask(turns, key));
            turns.Complete(key);
        }
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(0, 1, 2), ref extra, out _));
    }

    [Fact]
    public void Extra_turns_are_not_timed_as_planned_ones()
    {
        var turns = Turns(workers: 2, concurrency: 3);
        foreach (int w in new[] { 0, 1 }) Assert.True(Ask(turns, new TurnKey(w, 1, 0)));   // planned: 0 s each
        foreach (int w in new[] { 0, 1 }) turns.Complete(new TurnKey(w, 1, 0));
        foreach (int p in new[] { 1, 2 }) Assert.True(Ask(turns, new TurnKey(0, 1, 0, Partition: p)));   // extras: 1 s each
        _time.Advance(TimeSpan.FromSeconds(1));
        foreach (int p in new[] { 1, 2 }) turns.Complete(new TurnKey(0, 1, 0, Partition: p));

        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));
        Assert.Equal(TimeSpan.FromSeconds(2), turns.Expiry);   // the median planned turn: 0 s
    }

    [Fact]
    public void A_worker_that_asked_for_a_later_range_is_still_waited_for_on_an_earlier_one()
    {
        var turns = Turns(workers: 2, units: 2);
        long later = 0, ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(0, 1, 1), ref later, out _));   // worker 0 asks for range 1 first
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), ref ticket, out _));   // its range 0 comes before worker 1's
        Assert.Equal(0, turns.Passed);
    }

    [Fact]
    public void A_waiting_request_whose_turn_its_edge_took_meanwhile_leaves_the_queue_when_it_asks_again()
    {
        var turns = Turns(workers: 3);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        long asked = 0, behind = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), ref asked, out _, order: 2));   // the worker's own request, placed last
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref behind, out var woken));
        turns.Complete(new TurnKey(0, 1, 0));
        long edge = 0;
        // Its push came anyway, with the coordinator's newer order: second, ahead of both waiting requests.
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(1, 1, 0), ref edge, out _, sending: true, order: 1));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref behind, out woken));
        Assert.Equal(2, turns.Waiting);
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(1, 1, 0), ref asked, out _));
        Assert.Equal((1, edge), (turns.Waiting, asked));   // the request is the held turn now
        Assert.True(woken.IsCompleted);   // and worker 2 hears that it no longer waits behind it
    }
}
