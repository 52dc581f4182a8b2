using GpuPs.Core.Shards;
using GpuPs.Tests.Shared;
using GpuPs.Protocol;
using GpuPs.Server.Observers;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// <see cref="IShardObserver"/>: an observer added through the shard's options hears every closed step, refused push and
/// membership change, in order, and one that throws disturbs neither the shard nor the other observers.
/// </summary>
public class ShardObserverTests
{
    [Fact]
    public async Task A_counting_observer_hears_steps_refusals_and_membership_in_order()
    {
        var clock = new ManualTimeProvider();
        var counting = new CountingObserver();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 2, heartbeatTimeoutMs: 300), Filled(1f), clock, observers: [counting]);
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        clock.Advance(TimeSpan.FromMilliseconds(40));
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));                       // closes step 0
        // A second push of an applied step is a duplicate (a retry), not a straggler's late work.
        Assert.Equal(PushOutcomeKind.Duplicate, shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f)).Kind);

        var next = shard.WaitForStepAsync(0, 2, CancellationToken.None);
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        clock.Advance(TimeSpan.FromMilliseconds(250));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        clock.Advance(TimeSpan.FromMilliseconds(250));                                // worker 1 silent 500 ms: evicted, step 1 closes
        await next.WaitAsync(TimeSpan.FromSeconds(30));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 1 });                       // back

        Assert.Equal(2, counting.Steps.Count);
        Assert.Equal([1L, 2L], counting.Steps.Select(s => s.Step));
        Assert.Equal(TimeSpan.FromMilliseconds(40), counting.Steps[0].Duration);
        Assert.True(counting.Steps[1].JobFinished);
        Assert.Single(counting.Refusals);
        Assert.Equal(
            [(0, MembershipEvent.Registered), (1, MembershipEvent.Registered), (1, MembershipEvent.Evicted), (1, MembershipEvent.Returned)],
            counting.Membership.Select(m => (m.WorkerId, m.Event)));
    }

    [Fact]
    public void A_late_push_is_reported_with_its_outcome_and_a_throwing_observer_changes_nothing()
    {
        var counting = new CountingObserver();
        var job = Job(SyncMode.Backup, workers: 3, steps: 5) with { Stragglers = 1 };
        using var shard = Create(job, Filled(1f), observers: [new ThrowingObserver(), counting]);
        RegisterAll(shard, 3);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        var closed = shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));           // n − s = 2: closes step 0
        var late = shard.Push(new PushHeader(2, 0, 0, 1, 0), Filled(1f));

        Assert.True(closed.ClosedStep);
        Assert.Equal(PushOutcomeKind.Late, late.Kind);
        Assert.Equal(Filled(0f), Parameters(shard));
        Assert.Single(counting.Steps);
        var (header, outcome) = Assert.Single(counting.Refusals);
        Assert.Equal(2, header.WorkerId);
        Assert.Equal(PushOutcomeKind.Late, outcome.Kind);
        Assert.Equal(1, shard.Status().PushesDroppedLate);
    }

    private sealed class CountingObserver : IShardObserver
    {
        public List<StepClosed> Steps { get; } = [];
        public List<(PushHeader Header, PushOutcome Outcome)> Refusals { get; } = [];
        public List<MembershipChange> Membership { get; } = [];

        public void OnStepClosed(in StepClosed closed) => Steps.Add(closed);
        public void OnPushRefused(in PushHeader header, in PushOutcome outcome) => Refusals.Add((header, outcome));
        public void OnMembershipChanged(in MembershipChange change) => Membership.Add(change);
    }

    private sealed class ThrowingObserver : IShardObserver
    {
        public void OnStepClosed(in StepClosed closed) => throw new InvalidOperationException("observer bug");
        public void OnPushRefused(in PushHeader header, in PushOutcome outcome) => throw new InvalidOperationException("observer bug");
    }
}
