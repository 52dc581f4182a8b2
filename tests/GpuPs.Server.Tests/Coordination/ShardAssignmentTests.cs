using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// The coordinating shard of a proportional BSP job hands each version it publishes to its own step rule: a version
/// published as a step closes (here, the step an eviction closed, whose version gives the evicted worker a zero share)
/// decides whom the next step waits for, even once that worker is back. On the shard's own clock.
/// </summary>
public class ShardAssignmentTests
{
    private const int TimeoutMs = 400;

    /// <summary>A registered shard 0 of a 3-worker proportional BSP job on <paramref name="clock"/>.</summary>
    private static ParameterShard Started(ManualTimeProvider clock, long steps)
    {
        var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: steps, heartbeatTimeoutMs: TimeoutMs) with { Assignment = AssignmentPolicy.Proportional }, time: clock);
        RegisterAll(shard, 3);
        return shard;
    }

    /// <summary>Runs the clock past the heartbeat timeout while only <paramref name="talking"/> call, at <paramref name="step"/>.</summary>
    private static void OnlyTheseCall(ManualTimeProvider clock, ParameterShard shard, long step, params int[] talking)
    {
        for (int tick = 0; tick < 5; tick++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 4));
            foreach (int w in talking) shard.Heartbeat(new HeartbeatRequest { WorkerId = w, Step = step });
        }
    }

    [Fact]
    public void A_version_published_when_an_eviction_closes_the_step_is_the_one_the_next_step_waits_by()
    {
        var clock = new ManualTimeProvider();
        using var shard = Started(clock, steps: 10);
        for (int w = 0; w < 3; w++) shard.Heartbeat(new HeartbeatRequest { WorkerId = w, RowsPerSecond = 1000 });   // the probes: version 1
        Assert.Equal((1L, 0), (shard.Status().Assignment.Version, shard.Status().Assignment.IdleWorkers.Count));

        foreach (int w in new[] { 0, 1 }) Assert.False(shard.Push(new PushHeader(w, 0, 0, 1, 0), Filled(1f)).ClosedStep);
        OnlyTheseCall(clock, shard, step: 1, 0, 1);   // worker 2 falls silent
        Assert.Equal(1, shard.Status().Step);   // closed without worker 2
        Assert.Equal(2L, shard.Status().Assignment.Version);
        Assert.Equal([2], shard.Status().Assignment.IdleWorkers);

        shard.Heartbeat(new HeartbeatRequest { WorkerId = 2, Step = 1 });   // back, at a zero share
        Assert.Equal(3, shard.Status().LiveWorkers);
        Assert.False(shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)).ClosedStep);
        Assert.True(shard.Push(new PushHeader(1, 1, 0, 1, 0), Filled(1f)).ClosedStep);   // step 1 waits for no push of worker 2
    }

    [Fact]
    public void A_version_published_when_the_workers_with_rows_are_evicted_mid_step_is_the_one_the_shard_waits_by()
    {
        var clock = new ManualTimeProvider();
        using var shard = Started(clock, steps: 30);
        // ZeroShareCoordinatorTests' costs: workers 0 and 1 at 1000 rows/s, worker 2 at 10, each step 0.25 s beside its rows.
        double[] speeds = [1000, 1000, 10];
        for (int w = 0; w < 3; w++) shard.Heartbeat(new HeartbeatRequest { WorkerId = w, RowsPerSecond = speeds[w] });
        long step = 0;
        for (; step < 20 && shard.Status().Assignment.IdleWorkers.Count == 0; step++)
        {
            for (int w = 0; w < 3; w++)
                shard.Heartbeat(new HeartbeatRequest { WorkerId = w, Step = step, RowsPerSecond = speeds[w], ExchangeSeconds = 0.5, ShareRows = w == 2 ? 9 : 495, StepRows = 1000, FixedSeconds = 0.25 });
            for (int w = 0; w < 3; w++) shard.Push(new PushHeader(w, step, 0, 1, 0), Filled(1f));
            Assert.Equal(step + 1, shard.Status().Step);
        }
        Assert.Equal([2], shard.Status().Assignment.IdleWorkers);
        long version = shard.Status().Assignment.Version;

        OnlyTheseCall(clock, shard, step, 2);   // workers 0 and 1, which hold every row, fall silent mid-step
        Assert.Equal(step, shard.Status().Step);   // nothing closed it
        Assert.Equal((version + 1, step), (shard.Status().Assignment.Version, shard.Status().Assignment.FromStep));
        Assert.Equal([0, 1], shard.Status().Assignment.IdleWorkers);
        Assert.True(shard.Push(new PushHeader(2, step, 0, 1, 0), Filled(1f)).ClosedStep);

        foreach (int w in new[] { 0, 1 }) shard.Heartbeat(new HeartbeatRequest { WorkerId = w, Step = step + 1 });   // back, at zero shares
        Assert.Equal(3, shard.Status().LiveWorkers);
        Assert.True(shard.Push(new PushHeader(2, step + 1, 0, 1, 0), Filled(1f)).ClosedStep);   // the step waits for neither
    }
}
