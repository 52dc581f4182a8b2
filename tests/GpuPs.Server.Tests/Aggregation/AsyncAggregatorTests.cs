using GpuPs.Core.Aggregation;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.Aggregation.AggregatorFixture;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="AsyncAggregator"/>'s rules for ASP and SSP: a push must be its worker's next step; the SSP bound is
/// measured against the slowest worker still expected (an evicted one holds nobody back); no membership change closes
/// a step; a finished job lets every pull through.
/// </summary>
public class AsyncAggregatorTests
{
    private const int Length = 2;

    private static PushHeader Header(WorkerSlot worker, long step) => new(worker.Id, step, 0, 1, 0);

    private static PushOutcome Push(AsyncAggregator aggregator, WorkerSlot worker) =>
        aggregator.Accept(worker, Header(worker, worker.Clock), [1f, 1f]);

    [Fact]
    public void A_push_must_be_the_workers_next_step_neither_behind_nor_ahead()
    {
        var slots = Slots(2);
        var aggregator = new AsyncAggregator(Model(Length), slots, totalSteps: 10, staleness: null);
        Push(aggregator, slots[0]);

        var behind = aggregator.Admit(slots[0], Header(slots[0], 0));
        var ahead = aggregator.Admit(slots[0], Header(slots[0], 2));
        var next = aggregator.Admit(slots[0], Header(slots[0], 1));

        Assert.Equal(PushOutcomeKind.Duplicate, behind.Kind);
        Assert.Equal(PushOutcomeKind.Refused, ahead.Kind);
        Assert.Contains("worker 0 is at step 1", ahead.Reason);
        // Admit only judges: Applied, closing nothing and finishing nothing (Accept says what the push did).
        Assert.Equal(PushOutcome.Applied(1, closedStep: false, jobFinished: false), next);
        Assert.Equal(1, slots[0].Clock);
    }

    [Fact]
    public void The_staleness_bound_is_measured_against_the_slowest_worker_still_expected()
    {
        var slots = Slots(3);
        slots[2].Evicted = true;   // silent at clock 0: no longer waited for
        var aggregator = new AsyncAggregator(Model(Length), slots, totalSteps: 10, staleness: 1);
        foreach (var w in new[] { 0, 1, 0, 1 }) Assert.True(Push(aggregator, slots[w]).IsApplied);

        Assert.True(Push(aggregator, slots[0]).IsApplied);    // clock 2 against worker 1's 2
        Assert.True(Push(aggregator, slots[0]).IsApplied);    // clock 3: one ahead, within the bound
        var beyond = Push(aggregator, slots[0]);              // clock 4: two ahead of worker 1

        Assert.Equal(PushOutcomeKind.Refused, beyond.Kind);
        Assert.Contains("slowest worker (step 2)", beyond.Reason);
        Assert.Equal(4, slots[0].Clock);
    }

    [Fact]
    public void Membership_changes_close_no_step_and_a_finished_job_lets_every_pull_through()
    {
        var slots = Slots(2);
        var aggregator = new AsyncAggregator(Model(Length), slots, totalSteps: 2, staleness: 0);
        Assert.False(aggregator.CanProceed(slots[0], minStep: 1));

        slots[1].Evicted = true;
        Assert.False(aggregator.OnMembershipChanged());
        Push(aggregator, slots[0]);
        var last = Push(aggregator, slots[0]);

        Assert.True(last.JobFinished);
        Assert.True(aggregator.IsFinished);
        Assert.True(aggregator.CanProceed(slots[0], minStep: 99));
    }
}
