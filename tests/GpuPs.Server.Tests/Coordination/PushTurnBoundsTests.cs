using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// <see cref="PushTurns"/> at its edges, on a manual clock: the pass bound and the expiry follow the last step's turns
/// within their floors and ceilings, the recheck time a full link gives, a worker known late has its later turns passed
/// without a second wait, requests of an older step are dropped by a new deal, the signal a freed turn gives, and the
/// refusals of impossible arguments.
/// </summary>
public class PushTurnBoundsTests
{
    private readonly ManualTimeProvider _time = new();

    private PushTurns Turns(int workers, int concurrency = 1, int units = 1) => PushTurnsTests.Registered(workers, concurrency, units, _time);

    private static TurnAnswer Try(PushTurns turns, TurnKey key, ref long ticket, out Task changed, out TimeSpan recheck, bool sending = false, int order = -1) =>
        turns.TryBegin(key, order, sending, ref ticket, out changed, out recheck);

    private static bool Ask(PushTurns turns, TurnKey key, bool sending = false, int order = -1)
    {
        long ticket = 0;
        return Try(turns, key, ref ticket, out _, out _, sending, order) == TurnAnswer.Granted;
    }

    /// <summary>Step 1's two turns, each held for <paramref name="held"/>; then step 2 is dealt.</summary>
    private PushTurns AfterTurnsOf(TimeSpan held)
    {
        var turns = Turns(workers: 2);
        foreach (int w in new[] { 0, 1 })
        {
            Assert.True(Ask(turns, new TurnKey(w, 1, 0)));
            _time.Advance(held);
            turns.Complete(new TurnKey(w, 1, 0));
        }
        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));   // deals step 2
        return turns;
    }

    [Theory]
    [InlineData(400, 50, 3200)]    // a quarter of 400 ms is above the 50 ms ceiling; eight medians above the 2 s floor
    [InlineData(40, 10, 2000)]     // 10 ms; 320 ms is below the floor
    [InlineData(4, 2, 2000)]       // 1 ms is below the 2 ms floor
    public void The_pass_bound_and_the_expiry_follow_the_last_step_s_turns_within_their_bounds(int heldMs, int passAfterMs, int expiryMs)
    {
        var turns = AfterTurnsOf(TimeSpan.FromMilliseconds(heldMs));
        Assert.Equal(TimeSpan.FromMilliseconds(passAfterMs), turns.PassAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(expiryMs), turns.Expiry);
    }

    [Fact]
    public void The_bounds_change_only_when_the_next_step_is_dealt()
    {
        var turns = Turns(workers: 2);
        foreach (int w in new[] { 0, 1 })
        {
            Assert.True(Ask(turns, new TurnKey(w, 1, 0)));
            _time.Advance(TimeSpan.FromMilliseconds(400));
            turns.Complete(new TurnKey(w, 1, 0));
        }
        Assert.Equal((PushTurns.DefaultPassAfter, TimeSpan.FromSeconds(2)), (turns.PassAfter, turns.Expiry));   // step 1's turns all ended: still step 0's bounds

        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));
        Assert.Equal((TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(3200)), (turns.PassAfter, turns.Expiry));
    }

    [Fact]
    public void The_pass_bound_follows_the_median_turn_whatever_order_the_turns_ended_in()
    {
        var turns = Turns(workers: 3);
        int[] heldMs = [400, 4, 40];   // the median, 40 ms, ends last but one
        for (int w = 0; w < 3; w++)
        {
            Assert.True(Ask(turns, new TurnKey(w, 1, 0)));
            _time.Advance(TimeSpan.FromMilliseconds(heldMs[w]));
            turns.Complete(new TurnKey(w, 1, 0));
        }
        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));

        Assert.Equal(TimeSpan.FromMilliseconds(10), turns.PassAfter);
    }

    [Fact]
    public void Only_the_dealt_step_s_planned_turns_set_the_bounds_and_a_step_without_any_keeps_them()
    {
        var turns = AfterTurnsOf(TimeSpan.FromMilliseconds(40));
        _time.Advance(TimeSpan.FromSeconds(1));
        turns.Complete(new TurnKey(0, 2, 0));   // step 2's one turn took 1 s
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));   // a push of step 1 still asking (the shard answers it; it holds a turn anyway)
        _time.Advance(TimeSpan.FromSeconds(10));
        turns.Complete(new TurnKey(1, 1, 0));   // not measured: not of the step dealt
        Assert.True(Ask(turns, new TurnKey(0, 3, 0)));
        Assert.Equal((TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(8)), (turns.PassAfter, turns.Expiry));

        var evicted = AfterTurnsOf(TimeSpan.FromMilliseconds(40));
        evicted.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 2));   // its turn of step 2 goes unmeasured
        Assert.True(Ask(evicted, new TurnKey(1, 3, 0)));
        Assert.Equal((TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(2)), (evicted.PassAfter, evicted.Expiry));
    }

    [Fact]
    public void A_full_link_rechecks_when_its_oldest_idle_turn_would_expire_or_after_an_expiry_when_every_turn_is_being_sent()
    {
        var turns = Turns(workers: 3, concurrency: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));
        _time.Advance(TimeSpan.FromMilliseconds(300));
        long ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref ticket, out var changed, out var recheck));
        Assert.Equal(turns.Expiry - TimeSpan.FromMilliseconds(800), recheck);   // worker 0's turn, idle for 800 ms
        Assert.False(changed.IsCompleted);

        var sending = turns.Claim(new TurnKey(0, 1, 0), anyUnit: false)!;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref ticket, out _, out recheck));
        Assert.Equal(turns.Expiry - TimeSpan.FromMilliseconds(300), recheck);   // now worker 1's
        Assert.NotNull(turns.Claim(new TurnKey(1, 1, 0), anyUnit: false));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref ticket, out changed, out recheck));
        Assert.Equal(turns.Expiry, recheck);   // both being sent: neither expires

        sending.End();
        Assert.True(changed.IsCompleted);   // a freed turn wakes the waiting
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(2, 1, 0), ref ticket, out _, out _));
        Assert.Equal(2, turns.Peak);
    }

    [Fact]
    public void A_worker_known_late_has_its_later_ranges_passed_without_a_second_wait()
    {
        var turns = Turns(workers: 2, units: 2);
        long ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), ref ticket, out _, out _));   // worker 0 is absent
        _time.Advance(turns.PassAfter);
        Assert.Equal(TurnAnswer.Granted, Try(turns, new TurnKey(1, 1, 0), ref ticket, out _, out _));
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.Equal(1, turns.Passed);

        // Range 1: worker 0's turn comes first, but worker 0 is known late this step: passed at once.
        Assert.True(Ask(turns, new TurnKey(1, 1, 1)));
        Assert.Equal(2, turns.Passed);
        turns.Complete(new TurnKey(1, 1, 1));

        // A new step forgets it: worker 0 is waited for again.
        ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 2, 0), ref ticket, out _, out var recheck));
        Assert.Equal(turns.PassAfter, recheck);
    }

    [Fact]
    public void The_pass_bound_counts_from_the_later_of_the_request_s_arrival_and_the_turn_s_freeing()
    {
        var idle = Turns(workers: 3);
        Assert.True(Ask(idle, new TurnKey(0, 1, 0)));
        idle.Complete(new TurnKey(0, 1, 0));   // the link is free from t = 0
        _time.Advance(TimeSpan.FromSeconds(1));
        long ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(idle, new TurnKey(2, 1, 0), ref ticket, out _, out var recheck));   // worker 1 is absent
        Assert.Equal(idle.PassAfter, recheck);
        _time.Advance(idle.PassAfter / 4);
        Assert.Equal(TurnAnswer.Wait, Try(idle, new TurnKey(2, 1, 0), ref ticket, out _, out recheck));
        Assert.Equal(idle.PassAfter * 3 / 4, recheck);   // what is left of the bound

        var busy = Turns(workers: 3);
        Assert.True(Ask(busy, new TurnKey(0, 1, 0)));
        ticket = 0;
        Assert.Equal(TurnAnswer.Wait, Try(busy, new TurnKey(2, 1, 0), ref ticket, out _, out _));   // the only turn is held
        _time.Advance(TimeSpan.FromSeconds(1));
        busy.Complete(new TurnKey(0, 1, 0));   // freed a second after worker 2 asked
        Assert.Equal(TurnAnswer.Wait, Try(busy, new TurnKey(2, 1, 0), ref ticket, out _, out recheck));
        Assert.Equal(busy.PassAfter, recheck);
    }

    [Fact]
    public void A_new_step_drops_the_requests_of_older_steps_and_keeps_their_turns()
    {
        var turns = Turns(workers: 3);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        long stale = 0;
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(2, 1, 0), ref stale, out _, out _));
        Assert.Equal(1, turns.Waiting);
        Assert.False(Ask(turns, new TurnKey(1, 2, 0)));   // step 2 deals: worker 2's request of step 1 goes; worker 1's waits for the turn held
        Assert.Equal((1, 1), (turns.Waiting, turns.InFlight));
    }

    [Fact]
    public void An_order_out_of_range_keeps_the_place_last_told_and_membership_of_unknown_workers_changes_nothing()
    {
        var turns = Turns(workers: 2);
        turns.OnMembershipChanged(new MembershipChange(0, 2, MembershipEvent.Evicted, 1));
        turns.OnMembershipChanged(new MembershipChange(0, -1, MembershipEvent.Evicted, 1));
        Assert.True(Ask(turns, new TurnKey(0, 1, 0), order: 1));
        turns.Complete(new TurnKey(0, 1, 0));
        Assert.True(Ask(turns, new TurnKey(1, 1, 0), order: 0));
        turns.Complete(new TurnKey(1, 1, 0));

        Assert.True(Ask(turns, new TurnKey(1, 2, 0), order: 2));   // no place 2 among two workers: worker 1 stays first
    }

    [Fact]
    public void Impossible_workers_concurrencies_and_units_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PushTurns(2, units: 1, concurrency: 0, _time));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PushTurns(2, units: 0, concurrency: 1, _time));
        var turns = Turns(workers: 2);
        long ticket = 0;
        Assert.Throws<ArgumentOutOfRangeException>(() => turns.TryBegin(new TurnKey(2, 1, 0), -1, false, ref ticket, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => turns.TryBegin(new TurnKey(-1, 1, 0), -1, false, ref ticket, out _, out _));
        Assert.Equal((0, 0, 0L), (turns.Waiting, turns.InFlight, turns.Granted));
    }
}
