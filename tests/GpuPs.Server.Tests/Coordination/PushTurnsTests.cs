using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Strict round-robin push turns (<see cref="PushTurns"/>) on a manual clock: never more than the concurrency hold a
/// turn (the turns' own count), turns go in the planned order whatever order the requests come in, a late or dead
/// worker's turn passes to the next one waiting after the pass bound and it pushes at the next free turn, a shard that
/// closes per range deals every worker's range r before range r + 1, and a turn whose push never arrives expires.
/// </summary>
public class PushTurnsTests
{
    private readonly ManualTimeProvider _time = new();

    private PushTurns Turns(int workers, int concurrency = 1, int units = 1) => Registered(workers, concurrency, units, _time);

    /// <summary>Turns of <paramref name="workers"/> registered workers on <paramref name="time"/>.</summary>
    internal static PushTurns Registered(int workers, int concurrency, int units, TimeProvider time)
    {
        var turns = new PushTurns(workers, units, concurrency, time);
        for (int w = 0; w < workers; w++) turns.OnMembershipChanged(new MembershipChange(0, w, MembershipEvent.Registered, 0));
        return turns;
    }

    private readonly Dictionary<TurnKey, long> _tickets = [];   // each push's request, as an edge keeps it while it waits

    private bool Ask(PushTurns turns, int worker, long step = 1, int unit = 0, int order = -1, int partition = -1) =>
        Try(turns, new TurnKey(worker, step, unit, partition), out _, order) == TurnAnswer.Granted;

    /// <summary>Asks for <paramref name="key"/>'s turn with its request's ticket; a granted request's ticket is the turn's id.</summary>
    private TurnAnswer Try(PushTurns turns, TurnKey key, out TimeSpan recheck, int order = -1, bool sending = false)
    {
        long ticket = _tickets.GetValueOrDefault(key);
        var answer = turns.TryBegin(key, order, sending, ref ticket, out _, out recheck);
        if (answer == TurnAnswer.Granted) _tickets.Remove(key);
        else _tickets[key] = ticket;
        Turn = ticket;
        return answer;
    }

    /// <summary>The last request's ticket: the turn's id when it was granted.</summary>
    private long Turn { get; set; }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Requests_in_any_order_are_granted_in_the_planned_order_and_never_more_than_the_concurrency_at_once(int concurrency)
    {
        var turns = Turns(workers: 4, concurrency);
        int[] rank = [2, 0, 3, 1];   // the coordinator's order: worker 1, 3, 0, 2
        var waiting = new List<int> { 2, 0, 3, 1 };   // they ask last first
        var granted = new List<int>();
        var held = new Queue<int>();
        while (waiting.Count > 0)
        {
            // Everyone still waiting asks again until no one more gets a turn; then the oldest turn ends.
            for (bool more = true; more;)
            {
                more = false;
                foreach (int w in waiting.ToList())
                    if (Ask(turns, w, order: rank[w]))
                    {
                        (more, _) = (true, waiting.Remove(w));
                        granted.Add(w);
                        held.Enqueue(w);
                    }
            }
            Assert.InRange(turns.InFlight, 1, concurrency);
            turns.Complete(new TurnKey(held.Dequeue(), 1, 0));
        }

        Assert.Equal([1, 3, 0, 2], granted);
        Assert.Equal(concurrency, turns.Peak);
        Assert.Equal(4, turns.Granted);
        Assert.Equal(0, turns.Passed);
    }

    [Fact]
    public void A_worker_that_has_not_asked_is_passed_after_the_bound_and_pushes_at_the_next_free_turn()
    {
        var turns = Turns(workers: 3);
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), out var recheck));   // worker 0, first in the order, is computing
        Assert.Equal(PushTurns.DefaultPassAfter, recheck);
        Assert.False(Ask(turns, 2));

        _time.Advance(PushTurns.DefaultPassAfter);
        Assert.False(Ask(turns, 2));      // worker 1 comes first among those waiting
        Assert.True(Ask(turns, 1));
        Assert.Equal(1, turns.Passed);

        Assert.False(Ask(turns, 0));      // late: it waits for the turn in flight, then goes before worker 2
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.False(Ask(turns, 2));
        Assert.True(Ask(turns, 0));
        turns.Complete(new TurnKey(0, 1, 0));
        Assert.True(Ask(turns, 2));
        Assert.Equal(1, turns.Peak);
    }

    [Fact]
    public void An_evicted_worker_is_not_waited_for_and_a_rejoined_one_is()
    {
        var turns = Turns(workers: 2);
        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 1));
        Assert.True(Ask(turns, 1));
        turns.Complete(new TurnKey(1, 1, 0));

        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Rejoined, 2));
        Assert.False(Ask(turns, 1, step: 2));
        Assert.True(Ask(turns, 0, step: 2));

        // Evicted while holding its turn (it died mid-push): the turn frees at once, not after the expiry.
        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 2));
        Assert.Equal(0, turns.InFlight);
        Assert.True(Ask(turns, 1, step: 2));
    }

    [Fact]
    public void Per_range_turns_deal_every_worker_s_range_before_the_next_range()
    {
        var turns = Turns(workers: 2, units: 2);
        Assert.True(Ask(turns, 0, unit: 0));
        turns.Complete(new TurnKey(0, 1, 0));
        Assert.False(Ask(turns, 0, unit: 1));   // worker 1's range 0 comes first
        Assert.True(Ask(turns, 1, unit: 0));
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.False(Ask(turns, 1, unit: 1));
        Assert.True(Ask(turns, 0, unit: 1));
        turns.Complete(new TurnKey(0, 1, 1));
        Assert.True(Ask(turns, 1, unit: 1));
        Assert.Equal((4L, 1), (turns.Granted, turns.Peak));
    }

    [Fact]
    public void A_held_turn_is_granted_again_to_its_own_retry_and_a_second_push_of_the_step_waits_behind_the_planned_ones()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0));
        Assert.True(Ask(turns, 0));          // the same push again (a retried call, the next piece of a gathered push)
        Assert.Equal(1, turns.InFlight);
        turns.Complete(new TurnKey(0, 1, 0));

        Assert.False(Ask(turns, 0));         // a second message of worker 0: worker 1's planned turn goes first
        Assert.True(Ask(turns, 1));
        Assert.False(Ask(turns, 0));         // and it never makes two in flight
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.True(Ask(turns, 0));
        Assert.Equal(1, turns.Peak);
    }

    [Fact]
    public void A_turn_whose_push_never_arrives_stops_counting_after_the_expiry()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0));
        Assert.Equal(TurnAnswer.Wait, Try(turns, new TurnKey(1, 1, 0), out var recheck));
        Assert.Equal(turns.Expiry, recheck);
        _time.Advance(turns.Expiry);
        Assert.True(Ask(turns, 1));
        Assert.Equal(1, turns.InFlight);
    }

    [Fact]
    public void A_new_step_deals_again_and_the_last_step_s_turns_set_the_pass_bound()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, 0));
        _time.Advance(TimeSpan.FromMilliseconds(40));
        turns.Complete(new TurnKey(0, 1, 0));
        Assert.True(Ask(turns, 1));
        _time.Advance(TimeSpan.FromMilliseconds(40));
        turns.Complete(new TurnKey(1, 1, 0));

        Assert.False(Ask(turns, 1, step: 2));   // step 2: worker 0 first again
        Assert.Equal(TimeSpan.FromMilliseconds(10), turns.PassAfter);   // a quarter of the 40 ms turns
        Assert.True(Ask(turns, 0, step: 2));
    }

    [Fact]
    public void A_push_whose_range_the_edge_could_not_read_yet_goes_on_under_its_worker_s_unsent_turn_and_ends_exactly_it()
    {
        var turns = Turns(workers: 2, units: 4, concurrency: 2);
        Assert.True(Ask(turns, 0, unit: 0));
        long first = Turn;
        Assert.Null(turns.Claim(new TurnKey(1, 1, 0), anyUnit: true));
        Assert.Null(turns.Claim(new TurnKey(0, 2, 0), anyUnit: true));
        var lease = turns.Claim(new TurnKey(0, 1, 3), anyUnit: true);   // the edge reads the piece's range later
        Assert.Equal(first, lease!.Turn);
        Assert.Null(turns.Claim(new TurnKey(0, 1, 2), anyUnit: true));   // a turn already sent under is no one else's
        lease.End();
        Assert.Equal(0, turns.InFlight);
        Assert.True(Ask(turns, 1, unit: 0));
    }
}
