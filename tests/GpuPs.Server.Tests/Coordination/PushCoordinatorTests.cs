using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Shard 0 as the coordinator of a round-robin job: workers learn versioned slots from the replies to their reports, the
/// slots follow the measured times and the membership, and a push that comes before its slot is held, then applied.
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

        // Step 0 pushed all at once (version 0): 4 workers shared the link, each push took 4 × 0.1 s.
        for (int w = 0; w < 4; w++) Report(shard, w, 0.2, 0.4, 0);
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

    [Fact]
    public void A_push_before_its_slot_is_held_until_the_slot_and_then_applied_not_lost()
    {
        var (shard, time) = Coordinator(2);
        using var _ = shard;
        for (int w = 0; w < 2; w++) Report(shard, w, 0.1, 0.5, 1);
        CloseStep(shard, 2);
        // Pulls at 0 and 0.5 s, pushes at 0.6 and 1.1 s.
        var late = Enumerable.Range(0, 2).Single(w => Report(shard, w, 0, 0, 0).Order == 1);
        var header = new PushHeader(late, 1, 0, 1, 0);

        time.Advance(TimeSpan.FromSeconds(0.7));
        Assert.Equal(TimeSpan.FromSeconds(0.4), shard.SlotWait(header));
        Assert.Equal(TimeSpan.Zero, shard.SlotWait(header with { WorkerId = 1 - late }));   // its slot (0.6 s) has come
        Assert.Equal(TimeSpan.Zero, shard.SlotWait(header with { Step = 0 }));              // a closed step's push is not held

        time.Advance(TimeSpan.FromSeconds(0.4));
        Assert.Equal(TimeSpan.Zero, shard.SlotWait(header));
        Assert.True(shard.Push(header, new float[ShardFixture.Length]).IsApplied);
    }

    [Fact]
    public async Task The_pulls_of_a_new_step_are_answered_in_turn()
    {
        var (shard, time) = Coordinator(2);
        using var _ = shard;
        for (int w = 0; w < 2; w++) Report(shard, w, 0.1, 0.5, 1);
        CloseStep(shard, 2);
        int first = Enumerable.Range(0, 2).Single(w => Report(shard, w, 0, 0, 0).Order == 0);

        var firstPull = shard.WaitForStepAsync(first, 1, CancellationToken.None);
        var secondPull = shard.WaitForStepAsync(1 - first, 1, CancellationToken.None);

        Assert.True(firstPull.IsCompletedSuccessfully);
        Assert.False(secondPull.IsCompleted);   // its turn is 0.5 s after the step opened
        time.Advance(TimeSpan.FromSeconds(0.5));
        await secondPull.WaitAsync(TimeSpan.FromSeconds(30));
        // A pull of a step already under way (an observer's, or an old step's) is not held.
        Assert.True(shard.WaitForStepAsync(1 - first, 0, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public void A_simultaneous_job_or_another_shard_holds_nothing_and_sends_no_slot()
    {
        var time = new ManualTimeProvider();
        using var simultaneous = ShardFixture.Create(ShardFixture.Job(SyncMode.Bsp, 2, 10), time: time);
        ShardFixture.RegisterAll(simultaneous, 2);
        Assert.Null(simultaneous.Heartbeat(new HeartbeatRequest { WorkerId = 0, ComputeSeconds = 1, PushSeconds = 1 }).PushSlot);
        Assert.Equal(TimeSpan.Zero, simultaneous.SlotWait(new PushHeader(0, 0, 0, 1, 0)));
    }
}
