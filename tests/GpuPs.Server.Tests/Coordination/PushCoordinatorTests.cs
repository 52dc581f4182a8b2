using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Shard 0 as the coordinator of a round-robin job: workers learn versioned slots from the replies to their reports, the
/// slots follow the measured times and the membership, and the step's pulls go in the plan's order (pushes go by turn: PushTurnsTests).
/// </summary>
public class PushCoordinatorTests
{
    private static (ParameterShard Shard, ManualTimeProvider Time) Coordinator(int workers, int concurrency = 1)
    {
        var time = new ManualTimeProvider();
        var job = ShardFixture.Job(SyncMode.Bsp, workers, steps: 100) with { Schedule = PushSchedule.RoundRobin, PushConcurrency = concurrency };
        var shard = ShardFixture.Create(job, time: time);
        ShardFixture.RegisterAll(shard, workers);
        return (shard, time);
    }

    private static PushSlot Report(ParameterShard shard, int worker, double compute, double push, long version) =>
        shard.Heartbeat(new HeartbeatRequest { WorkerId = worker, ComputeSeconds = compute, PushSeconds = push, SlotVersion = version }).PushSlot;

    private static void CloseStep(ParameterShard shard, int workers)
    {
        long step = shard.Status().Step;
        for (int w = 0; w < workers; w++)
            Assert.True(shard.Push(new PushHeader(w, step, 0, 1, 0), new float[ShardFixture.Length]).IsApplied);
    }

    [Fact]
    public void Workers_learn_evenly_gapped_versioned_slots_from_the_coordinator_after_reporting_their_times()
    {
        var (shard, _) = Coordinator(4);
        using var _ = shard;
        Assert.Equal(0, Report(shard, 0, 0, 0, 0).Version);   // nothing measured: no plan, push at once

        // Step 0 (version 0) went by turns too: each push took 0.1 s from its first byte, the time the plan takes as it is.
        for (int w = 0; w < 4; w++) Report(shard, w, 0.2, 0.1, 0);
        CloseStep(shard, 4);

        var slots = Enumerable.Range(0, 4).Select(w => Report(shard, w, 0, 0, 0)).ToArray();
        Assert.True(slots[0].Version > 0);
        Assert.All(slots, s => Assert.Equal(slots[0].Version, s.Version));
        Assert.Equal([0.0, 0.1, 0.2, 0.3], slots.Select(s => Math.Round(s.PullAtSeconds, 9)).Order());
        Assert.Equal([0.3, 0.4, 0.5, 0.6], slots.Select(s => Math.Round(s.PushAtSeconds, 9)).Order());
        Assert.All(slots, s => Assert.Equal(0.2, s.OffsetSeconds, 9));
        Assert.Equal([0, 1, 2, 3], slots.Select(s => s.Order).Order());
    }

    [Fact]
    public void Slots_adapt_to_measured_times_and_a_heterogeneous_worker_moves_to_the_end()
    {
        var (shard, _) = Coordinator(3);
        using var _ = shard;
        for (int w = 0; w < 3; w++) Report(shard, w, 0.1, 0.05, 1);
        CloseStep(shard, 3);
        var before = Report(shard, 0, 0, 0, 0);
        Assert.Equal(0, before.Order);

        // Worker 0 slows down to 1 s of compute: it goes last, and the others move up.
        Report(shard, 0, 1.9, 0.05, before.Version);
        CloseStep(shard, 3);

        var after = Enumerable.Range(0, 3).Select(w => Report(shard, w, 0, 0, 0)).ToArray();
        Assert.True(after[0].Version > before.Version);
        Assert.Equal(2, after[0].Order);
        Assert.Equal(1.0, after[0].OffsetSeconds, 9);   // smoothed: half way from 0.1 to 1.9
        Assert.Equal(0.1, after[0].PullAtSeconds, 9);
        Assert.Equal([0.15, 0.2], new[] { after[1], after[2] }.Select(s => Math.Round(s.PushAtSeconds, 9)).Order());
    }

    [Fact]
    public void An_evicted_worker_leaves_the_plan_and_the_others_close_the_gap()
    {
        var (shard, time) = Coordinator(3);
        using var _ = shard;
        for (int w = 0; w < 3; w++) Report(shard, w, 0.1, 0.05, 1);
        CloseStep(shard, 3);
        Assert.Equal(2, Enumerable.Range(0, 3).Max(w => Report(shard, w, 0, 0, 0).Order));

        // Workers 0 and 1 keep calling; worker 2 falls silent past the heartbeat timeout.
        for (int i = 0; i < 70; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Report(shard, 0, 0, 0, 0);
            Report(shard, 1, 0, 0, 0);
        }

        Assert.Equal(2, shard.Status().LiveWorkers);
        Assert.False(shard.Status().Workers[2].Live);
        Assert.Equal([0, 1], new[] { Report(shard, 0, 0, 0, 0).Order, Report(shard, 1, 0, 0, 0).Order }.Order());
    }

    /// <summary>Three workers with equal times after step 0 closed; their ids by the plan's order.</summary>
    private static (ParameterShard Shard, ManualTimeProvider Time, int[] ByOrder) Planned(int workers = 3)
    {
        var (shard, time) = Coordinator(workers);
        for (int w = 0; w < workers; w++) Report(shard, w, 0.1, 0.5, 1);
        CloseStep(shard, workers);
        var byOrder = new int[workers];
        for (int w = 0; w < workers; w++) byOrder[Report(shard, w, 0, 0, 0).Order] = w;
        return (shard, time, byOrder);
    }

    [Fact]
    public async Task The_pulls_of_a_new_step_go_in_the_plans_order_each_as_soon_as_the_one_before_was_sent()
    {
        var (shard, _, order) = Planned();
        using var _ = shard;
        // The first asks first and goes at once; the third asks before the second, but the second goes next.
        var pulls = new (int Worker, Task Task)[3];
        foreach (int rank in new[] { 0, 2, 1 }) pulls[rank] = (order[rank], shard.WaitForStepAsync(order[rank], 1, CancellationToken.None));

        Assert.True(pulls[0].Task.IsCompletedSuccessfully);
        Assert.False(pulls[1].Task.IsCompleted);
        Assert.False(pulls[2].Task.IsCompleted);
        shard.PullSent(pulls[0].Worker);                    // no timer: the link is handed on when the pull was sent
        await pulls[1].Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(pulls[2].Task.IsCompleted);           // one transfer at a time, in order
        shard.PullSent(pulls[1].Worker);
        await pulls[2].Task.WaitAsync(TimeSpan.FromSeconds(30));
        // A pull of a step already under way (an observer's, or an old step's) takes no turn.
        Assert.True(shard.WaitForStepAsync(order[1], 0, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_pull_does_not_wait_for_workers_ahead_of_it_that_have_not_asked()
    {
        var (shard, _, order) = Planned();
        using var _ = shard;
        Assert.True(shard.WaitForStepAsync(order[2], 1, CancellationToken.None).IsCompletedSuccessfully);
        var first = shard.WaitForStepAsync(order[0], 1, CancellationToken.None);
        Assert.False(first.IsCompleted);   // the link is taken: it goes next
        shard.PullSent(order[2]);
        await first.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_turn_never_reported_sent_stops_holding_the_others_after_three_planned_transfers()
    {
        var (shard, time, order) = Planned();
        using var _ = shard;
        Assert.True(shard.WaitForStepAsync(order[0], 1, CancellationToken.None).IsCompletedSuccessfully);
        var second = shard.WaitForStepAsync(order[1], 1, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1.4));
        await Task.Delay(50);
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.2));            // 3 x the 0.5 s transfer has passed
        await second.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_pull_given_up_while_waiting_lets_the_workers_after_it_go()
    {
        var (shard, _, order) = Planned();
        using var _ = shard;
        Assert.True(shard.WaitForStepAsync(order[0], 1, CancellationToken.None).IsCompletedSuccessfully);
        using var cancel = new CancellationTokenSource();
        var second = shard.WaitForStepAsync(order[1], 1, cancel.Token);
        var third = shard.WaitForStepAsync(order[2], 1, CancellationToken.None);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.WaitAsync(TimeSpan.FromSeconds(30)));
        shard.PullSent(order[0]);
        await third.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_pull_that_waited_for_a_turn_and_returned_because_the_step_moved_on_holds_nobody_back_in_the_next_step()
    {
        var (shard, _, order) = Planned();
        using var _ = shard;
        Assert.True(shard.WaitForStepAsync(order[0], 1, CancellationToken.None).IsCompletedSuccessfully);
        int stale = order[1];
        var waiting = shard.WaitForStepAsync(stale, 1, CancellationToken.None);
        Assert.False(waiting.IsCompleted);   // refused a turn: marked waiting
        // The stale worker measured fastest, so the next plan ranks it first; then step 1 closes under it.
        for (int w = 0; w < 3; w++) Report(shard, w, w == stale ? 0.01 : 0.1, 0.5, 2);
        CloseStep(shard, 3);
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));   // returns: its step is no longer the open one

        var next = new int[3];
        for (int w = 0; w < 3; w++) next[Report(shard, w, 0, 0, 0).Order] = w;
        Assert.Equal(stale, next[0]);
        // The others pull step 2 in order; none waits for the stale worker, which has not asked for step 2.
        foreach (int w in next.Skip(1))
        {
            Assert.True(shard.WaitForStepAsync(w, 2, CancellationToken.None).IsCompletedSuccessfully, $"worker {w} was held back");
            shard.PullSent(w);
        }
    }

    [Fact]
    public async Task The_next_plan_spaces_pulls_by_the_pull_time_measured_on_the_link_not_by_the_reported_push_time()
    {
        var (shard, time, order) = Planned();
        using var _ = shard;
        // Reported pushes took 0.5 s; the pulls went back to back 0.2 s apart.
        Assert.True(shard.WaitForStepAsync(order[0], 1, CancellationToken.None).IsCompletedSuccessfully);
        var rest = order.Skip(1).Select(w => shard.WaitForStepAsync(w, 1, CancellationToken.None)).ToArray();
        for (int rank = 0; rank < 2; rank++)
        {
            time.Advance(TimeSpan.FromSeconds(0.2));
            shard.PullSent(order[rank]);
            await rest[rank].WaitAsync(TimeSpan.FromSeconds(30));
        }
        CloseStep(shard, 3);
        var slots = order.Select(w => Report(shard, w, 0, 0, 0)).ToArray();
        Assert.Equal(new[] { 0, 0.2, 0.4 }, slots.Select(s => Math.Round(s.PullAtSeconds, 6)));
        Assert.Equal(0.5, slots[1].PushAtSeconds - slots[0].PushAtSeconds, 6);   // pushes stay one reported push apart
    }

    [Fact]
    public void A_simultaneous_job_or_another_shard_holds_nothing_and_sends_no_slot()
    {
        var time = new ManualTimeProvider();
        using var simultaneous = ShardFixture.Create(ShardFixture.Job(SyncMode.Bsp, 2, 10), time: time);
        ShardFixture.RegisterAll(simultaneous, 2);
        Assert.Null(simultaneous.Heartbeat(new HeartbeatRequest { WorkerId = 0, ComputeSeconds = 1, PushSeconds = 1 }).PushSlot);
        Assert.True(simultaneous.WaitForSlotAsync(new PushHeader(0, 0, 0, 1, 0), CancellationToken.None).IsCompletedSuccessfully);
    }
}
