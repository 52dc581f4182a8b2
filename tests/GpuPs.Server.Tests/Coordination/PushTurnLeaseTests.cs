using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// How a push turn's hold ends (<see cref="PushTurnLease"/>, <see cref="PushTurns"/>, a manual clock, the turns' own
/// counts): each step of a lease happens once however often it is called, a piece of a push gathered whole keeps its turn,
/// the no-turn lease does nothing, a turn expires only once its bytes stopped coming, a push still sent after its turn
/// ended (completed, or its worker evicted) counts on the link until its edge ends, and a turn sent under and expired is
/// not timed from its old grant when taken again.
/// </summary>
public class PushTurnLeaseTests
{
    private readonly ManualTimeProvider _time = new();

    private PushTurns Turns(int workers, int concurrency = 1, int units = 1) => PushTurnsTests.Registered(workers, concurrency, units, _time);

    private static bool Ask(PushTurns turns, TurnKey key, ref long ticket, bool sending = false) =>
        turns.TryBegin(key, -1, sending, ref ticket, out _, out _) == TurnAnswer.Granted;

    private readonly Dictionary<TurnKey, long> _tickets = [];   // each push's request, as an edge keeps it while it waits

    private bool Ask(PushTurns turns, TurnKey key, bool sending = false)
    {
        long ticket = _tickets.GetValueOrDefault(key);
        bool granted = Ask(turns, key, ref ticket, sending);
        if (granted) _tickets.Remove(key);
        else _tickets[key] = ticket;
        return granted;
    }

    private static PushTurnLease Sending(PushTurns turns, TurnKey key) => PushTurnOwnershipTests.Sending(turns, key);

    /// <summary>Whether worker 1's ask finds the only turn free (the ask expires what is due first).</summary>
    private bool FreeFor(PushTurns turns, int worker = 1, long step = 1) => Ask(turns, new TurnKey(worker, step, 0));

    [Fact]
    public void A_turn_expires_only_after_its_bytes_stopped_coming_and_arrival_counts_once()
    {
        var turns = Turns(workers: 2);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        _time.Advance(turns.Expiry * 3);
        Assert.False(FreeFor(turns));   // being sent: never expires
        lease.Arrived();
        lease.Arrived();                // a second call changes nothing
        _time.Advance(turns.Expiry - TimeSpan.FromTicks(1));
        Assert.False(FreeFor(turns));   // counts from the last byte
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(FreeFor(turns));
    }

    [Fact]
    public void A_turn_claimed_by_its_edge_holds_while_the_edge_sends_and_expires_after_it_stopped()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));   // granted before its first byte
        var lease = turns.Claim(new TurnKey(0, 1, 0), anyUnit: false)!;
        _time.Advance(turns.Expiry * 3);
        Assert.False(FreeFor(turns));
        lease.Arrived();
        _time.Advance(turns.Expiry);
        Assert.True(FreeFor(turns));
    }

    [Fact]
    public void A_retried_ask_of_a_held_turn_from_the_edge_that_sends_it_holds_it_while_it_sends()
    {
        var turns = Turns(workers: 2, units: 3);
        long ticket = 0;
        Assert.True(Ask(turns, new TurnKey(0, 1, 0), ref ticket));                  // asked before its first byte
        Assert.True(Ask(turns, new TurnKey(0, 1, 0), ref ticket, sending: true));   // the edge's ask: the same turn
        Assert.Equal(1, turns.InFlight);
        Assert.Null(turns.Claim(new TurnKey(0, 1, 2), anyUnit: true));   // sent under already: no other piece's turn
        _time.Advance(turns.Expiry * 3);
        Assert.False(FreeFor(turns));   // it does not expire while sent
        turns.Lease(ticket).Arrived();
        _time.Advance(turns.Expiry);
        Assert.True(FreeFor(turns));
    }

    [Fact]
    public void A_second_piece_of_a_range_whose_turn_is_sent_under_goes_on_under_that_turn_not_another_unsent_one()
    {
        var turns = Turns(workers: 1, units: 2, concurrency: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        Assert.True(Ask(turns, new TurnKey(0, 1, 1)));
        var first = turns.Claim(new TurnKey(0, 1, 0), anyUnit: false)!;
        var second = turns.Claim(new TurnKey(0, 1, 0), anyUnit: true)!;   // its range known: exactly its turn
        Assert.Equal(first.Turn, second.Turn);
        var unread = turns.Claim(new TurnKey(0, 1, 5), anyUnit: true)!;   // its range read only with its values: the unsent turn
        Assert.NotEqual(first.Turn, unread.Turn);
    }

    [Fact]
    public void A_piece_of_a_push_gathered_whole_keeps_its_turn_and_the_last_ends_it_once()
    {
        var turns = Turns(workers: 2);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        lease.End(nextPiece: true);
        Assert.Equal(1, turns.InFlight);
        var next = turns.Claim(new TurnKey(0, 1, 0), anyUnit: false)!;
        Assert.Equal(lease.Turn, next.Turn);
        next.End();
        Assert.Equal(0, turns.InFlight);
        Assert.True(FreeFor(turns));
        next.End();   // again: ends nothing else
        Assert.Equal(1, turns.InFlight);
    }

    [Fact]
    public void The_no_turn_lease_does_nothing()
    {
        var none = PushTurnLease.None;
        none.Arrived();
        none.End();
        none.End(nextPiece: true);
        Assert.Equal(0, none.Turn);
    }

    [Fact]
    public void A_push_still_sent_after_its_turn_ended_counts_on_the_link_until_its_edge_ends()
    {
        var turns = Turns(workers: 3, concurrency: 2);
        var first = Sending(turns, new TurnKey(0, 1, 0));
        turns.Complete(new TurnKey(0, 1, 0));   // the shard has it while the edge still reads the stream's end
        var second = Sending(turns, new TurnKey(1, 1, 0));
        Assert.Equal(2, turns.Peak);
        first.End();                            // off the link now
        Assert.True(Ask(turns, new TurnKey(2, 1, 0)));
        Assert.Equal(2, turns.Peak);            // two turns held, no push without one
        second.End();
    }

    [Fact]
    public void A_worker_evicted_while_its_push_is_sent_frees_its_turn_and_the_push_counts_until_its_edge_ends()
    {
        var turns = Turns(workers: 3, concurrency: 1);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        Assert.False(Ask(turns, new TurnKey(1, 1, 0)));
        turns.OnMembershipChanged(new MembershipChange(0, 2, MembershipEvent.Evicted, 1));   // another worker: worker 0 keeps its turn
        Assert.Equal(1, turns.InFlight);
        turns.OnMembershipChanged(new MembershipChange(0, 0, MembershipEvent.Evicted, 1));
        Assert.Equal(0, turns.InFlight);
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));
        Assert.Equal(2, turns.Peak);   // worker 0's bytes were still on the link
        lease.End();
        turns.Complete(new TurnKey(1, 1, 0));
        turns.OnMembershipChanged(new MembershipChange(0, 2, MembershipEvent.Registered, 1));
        Assert.True(Ask(turns, new TurnKey(2, 1, 0)));
        Assert.Equal(2, turns.Peak);
    }

    [Fact]
    public void A_turn_sent_under_that_expired_is_timed_from_its_new_grant_when_taken_again()
    {
        var turns = Turns(workers: 2);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        lease.Arrived();   // every byte came, but the shard never had the push (its call hangs)
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));   // worker 0's turn expired
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));   // its retry: an extra turn, not the lapsed planned one
        turns.Complete(new TurnKey(0, 1, 0));

        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));
        Assert.Equal(TimeSpan.FromSeconds(2), turns.Expiry);   // the step's turns took 0 s, not 3 s
    }
}
