using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Whose turn is whose (<see cref="PushTurns"/>, on a manual clock, over the turns' own counts): each partition of a
/// worker's step has a turn of its own, a turn being sent never expires and ends with its call, a turn taken again after
/// it lapsed before its first byte still counts from its grant, an edge ends exactly its own turn, each request waits in
/// its own place, and the peak counts a push still sent after its turn ended.
/// </summary>
public class PushTurnOwnershipTests
{
    private readonly ManualTimeProvider _time = new();

    private PushTurns Turns(int workers, int concurrency = 1, int units = 1) => PushTurnsTests.Registered(workers, concurrency, units, _time);

    /// <summary>Asks once for <paramref name="key"/>'s turn with <paramref name="ticket"/> (0 for a new request).</summary>
    private static bool Ask(PushTurns turns, TurnKey key, ref long ticket, bool sending = false) =>
        turns.TryBegin(key, order: -1, sending, ref ticket, out _, out _) == TurnAnswer.Granted;

    /// <summary>An edge's push granted its turn at once, and its lease.</summary>
    internal static PushTurnLease Sending(PushTurns turns, TurnKey key)
    {
        long ticket = 0;
        Assert.True(Ask(turns, key, ref ticket, sending: true));
        return turns.Lease(ticket);
    }

    private static bool Ask(PushTurns turns, TurnKey key, bool sending = false)
    {
        long ticket = 0;
        return Ask(turns, key, ref ticket, sending);
    }

    [Fact]
    public void Each_partition_of_a_worker_s_step_waits_for_a_turn_of_its_own()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0, Partition: 0)));
        long second = 0;
        Assert.False(Ask(turns, new TurnKey(0, 1, 0, Partition: 1), ref second));   // the only turn is partition 0's
        Assert.Equal(1, turns.InFlight);

        turns.Complete(new TurnKey(0, 1, 0, Partition: 0));
        Assert.False(Ask(turns, new TurnKey(0, 1, 0, Partition: 1), ref second));   // an extra message: worker 1's planned turn first
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.True(Ask(turns, new TurnKey(0, 1, 0, Partition: 1), ref second));
        Assert.Equal((3L, 1), (turns.Granted, turns.Peak));
    }

    [Fact]
    public void A_turn_being_sent_never_expires_and_ends_with_its_edge()
    {
        var turns = Turns(workers: 2);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        _time.Advance(turns.Expiry * 10);   // a long transfer
        long next = 0;
        Assert.False(Ask(turns, new TurnKey(1, 1, 0), ref next));
        Assert.Equal(1, turns.InFlight);

        lease.End();   // its call ended without the shard having the push
        Assert.True(Ask(turns, new TurnKey(1, 1, 0), ref next));
        Assert.Equal(1, turns.Peak);
    }

    [Fact]
    public void A_turn_whose_first_byte_never_came_expires_and_taken_again_counts_from_its_grant()
    {
        var turns = Turns(workers: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));
        _time.Advance(TimeSpan.FromSeconds(3));   // past the 2 s expiry: worker 0 sent nothing
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));
        Assert.Null(turns.Claim(new TurnKey(0, 1, 0), anyUnit: false));   // its turn lapsed

        long ticket = 0;
        Assert.False(Ask(turns, new TurnKey(0, 1, 0), ref ticket, sending: true));
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.True(Ask(turns, new TurnKey(0, 1, 0), ref ticket, sending: true));
        _time.Advance(TimeSpan.FromSeconds(1));
        turns.Lease(ticket).Arrived();
        turns.Complete(new TurnKey(0, 1, 0));

        Assert.False(Ask(turns, new TurnKey(1, 2, 0)));   // step 2 deals: the turns of step 1 took 0 s and 4 s
        Assert.Equal(TimeSpan.FromSeconds(32), turns.Expiry);   // eight medians: the late turn counted
    }

    [Fact]
    public void An_edge_ends_exactly_its_own_turn_never_another_of_its_worker()
    {
        var turns = Turns(workers: 2, concurrency: 2, units: 2);
        Assert.True(Ask(turns, new TurnKey(0, 1, 0)));   // range 0's push, granted before its first byte
        long retry = 0;
        Assert.False(Ask(turns, new TurnKey(0, 1, 1), ref retry, sending: true));   // a retried piece of range 1
        _time.Advance(turns.PassAfter);   // worker 1, ahead of it, has not asked
        Assert.True(Ask(turns, new TurnKey(0, 1, 1), ref retry, sending: true));
        Assert.Equal(2, turns.InFlight);

        turns.Lease(retry).End();   // the shard refused the retry (a duplicate)
        Assert.Equal(1, turns.InFlight);
        var range0 = turns.Claim(new TurnKey(0, 1, 0), anyUnit: false);
        Assert.NotNull(range0);   // range 0's turn is still worker 0's
        Assert.Equal(2, turns.Peak);
    }

    [Fact]
    public void Concurrent_requests_of_one_worker_each_keep_their_place_and_giving_up_removes_only_one()
    {
        var turns = Turns(workers: 3);
        long first = 0, second = 0;
        Assert.False(Ask(turns, new TurnKey(2, 1, 0, Partition: 0), ref first));   // workers 0 and 1 come first
        _time.Advance(TimeSpan.FromMilliseconds(15));
        Assert.False(Ask(turns, new TurnKey(2, 1, 0, Partition: 1), ref second));
        Assert.Equal(2, turns.Waiting);
        turns.GiveUp(second);
        Assert.Equal(1, turns.Waiting);

        _time.Advance(TimeSpan.FromMilliseconds(10));   // the first has waited the 20 ms pass bound, from when it came
        Assert.True(Ask(turns, new TurnKey(2, 1, 0, Partition: 0), ref first));
        Assert.Equal(2, turns.Passed);
    }

    [Fact]
    public void The_peak_counts_a_push_still_sent_after_its_turn_ended()
    {
        var turns = Turns(workers: 2);
        var lease = Sending(turns, new TurnKey(0, 1, 0));
        turns.Complete(new TurnKey(0, 1, 0));   // ended while its bytes still come: the link holds two pushes below
        Assert.True(Ask(turns, new TurnKey(1, 1, 0)));
        Assert.Equal(2, turns.Peak);
        lease.End();
        turns.Complete(new TurnKey(1, 1, 0));
        Assert.True(Ask(turns, new TurnKey(0, 2, 0)));
        Assert.Equal(2, turns.Peak);
    }
}
