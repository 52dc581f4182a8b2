using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// Liveness on the shard's own clock (a <see cref="ManualTimeProvider"/>): who is evicted and when, what a returning
/// worker's clock becomes, and what the status reply says of each worker. Events and counts, never elapsed time.
/// </summary>
public class ShardLivenessTests
{
    private const int TimeoutMs = 400;   // the liveness timer then runs every 100 ms

    [Fact]
    public void A_worker_is_evicted_only_once_it_has_been_silent_for_longer_than_the_timeout()
    {
        var clock = new ManualTimeProvider();
        var events = new MembershipLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5, heartbeatTimeoutMs: TimeoutMs), time: clock, observers: [events]);
        RegisterAll(shard, 2);

        clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs));   // silent for exactly the timeout: still expected
        Assert.Equal(2, shard.Status().LiveWorkers);
        Assert.DoesNotContain(events.Changes, c => c.Event == MembershipEvent.Evicted);

        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, shard.Status().LiveWorkers);
        Assert.Equal(2, shard.Status().RegisteredWorkers);

        clock.Advance(TimeSpan.FromMilliseconds(10 * TimeoutMs));   // many more liveness ticks: each worker is evicted once
        Assert.Equal([0, 1], events.Changes.Where(c => c.Event == MembershipEvent.Evicted).Select(c => c.WorkerId).Order());
    }

    [Fact]
    public void A_slot_never_registered_is_not_evicted_and_its_first_registration_is_not_a_return()
    {
        var clock = new ManualTimeProvider();
        var events = new MembershipLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5, heartbeatTimeoutMs: TimeoutMs), time: clock, observers: [events]);
        shard.Register(new RegisterRequest { RequestedWorkerId = 0 });
        for (int i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        }
        shard.Register(new RegisterRequest { RequestedWorkerId = 1 });

        Assert.Equal([(0, MembershipEvent.Registered), (1, MembershipEvent.Registered)], events.Changes.Select(c => (c.WorkerId, c.Event)));
        Assert.Equal(2, shard.Status().LiveWorkers);
    }

    [Fact]
    public void No_worker_is_evicted_after_the_job_finished()
    {
        var clock = new ManualTimeProvider();
        var events = new MembershipLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1, heartbeatTimeoutMs: TimeoutMs), time: clock, observers: [events]);
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f)).JobFinished);

        clock.Advance(TimeSpan.FromMilliseconds(5 * TimeoutMs));   // finished workers disconnect: they are not "silent"

        Assert.Equal(2, shard.Status().LiveWorkers);
        Assert.DoesNotContain(events.Changes, c => c.Event == MembershipEvent.Evicted);
    }

    [Fact]
    public void A_bsp_worker_back_after_eviction_resumes_at_the_shard_step_and_its_registration_says_so()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 10, heartbeatTimeoutMs: TimeoutMs), time: clock);
        RegisterAll(shard, 2);
        SilenceWorker1(shard, clock);
        for (long t = 0; t < 3; t++) Assert.True(shard.Push(new PushHeader(0, t, 0, 1, 0), Filled(1f)).ClosedStep);   // alone: it closes steps
        Assert.Equal([3L, 0L], shard.Status().WorkerSteps);

        // A restarted worker 1 (new process, new token) takes its evicted slot: it rejoins at the shard's step 3, not at 0.
        var reply = shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "restarted" });
        Assert.Equal(3, reply.Step);
        Assert.Equal([3L, 3L], shard.Status().WorkerSteps);
        // And BSP waits for it again at step 3: its push of step 3 is the one that closes it.
        Assert.False(shard.Push(new PushHeader(0, 3, 0, 1, 0), Filled(1f)).ClosedStep);
        Assert.True(shard.Push(new PushHeader(1, 3, 0, 1, 0), Filled(1f)).ClosedStep);
    }

    [Fact]
    public void An_asp_worker_back_after_eviction_keeps_its_own_clock()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Asp, workers: 2, steps: 100, heartbeatTimeoutMs: TimeoutMs), time: clock);
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        SilenceWorker1(shard, clock);
        for (long t = 0; t < 4; t++) shard.Push(new PushHeader(0, t, 0, 1, 0), Filled(1f));

        // ASP's clock is the worker's own count of accepted pushes (5 updates on the shard, 1 of them worker 1's).
        Assert.Equal(1, shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "restarted" }).Step);
        Assert.Equal(5, shard.Status().Step);
        Assert.Equal([4L, 1L], shard.Status().WorkerSteps);
    }

    [Fact]
    public void The_status_reply_describes_every_worker()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: 5, heartbeatTimeoutMs: TimeoutMs), time: clock);
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, Host = "node-a", Device = "cuda:0" });
        shard.Register(new RegisterRequest { RequestedWorkerId = 1, Host = "node-b", Device = "simd" });
        clock.Advance(TimeSpan.FromMilliseconds(150));
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        clock.Advance(TimeSpan.FromMilliseconds(50));

        var workers = shard.Status().Workers;
        Assert.Equal(3, workers.Count);
        Assert.Equal(new WorkerStatus { WorkerId = 0, Registered = true, Live = true, Clock = 1, SilentMs = 50, Host = "node-a", Device = "cuda:0" }, workers[0]);
        Assert.Equal(new WorkerStatus { WorkerId = 1, Registered = true, Live = true, Clock = 0, SilentMs = 200, Host = "node-b", Device = "simd" }, workers[1]);
        Assert.Equal(new WorkerStatus { WorkerId = 2 }, workers[2]);

        clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs));   // worker 1 silent 600 ms, worker 0 450 ms: both evicted
        Assert.All(shard.Status().Workers.Take(2), w => Assert.True(w.Registered && !w.Live));
    }

    [Fact]
    public void The_step_log_keeps_each_closed_step_time_and_loss_up_to_the_last_ten_thousand()
    {
        const int steps = 10_003;
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Asp, workers: 1, steps: steps), time: clock);
        RegisterAll(shard, 1);
        for (int t = 0; t < steps; t++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1 + t % 3));
            shard.Push(new PushHeader(0, t, 0, 1, LossSum: t), Filled(0f));
        }

        var status = shard.Status();
        Assert.Equal(10_000, status.StepSeconds.Count);
        Assert.Equal(10_000, status.StepUpdateSeconds.Count);
        // The oldest three were dropped: the log starts at the step whose loss is 3.
        Assert.Equal(Enumerable.Range(3, 10_000).Select(t => (double)t), status.StepLoss);
        Assert.Equal(Enumerable.Range(3, 10_000).Select(t => (1 + t % 3) / 1000.0), status.StepSeconds, (a, b) => Math.Abs(a - b) < 1e-9);
    }

    [Fact]
    public void A_second_registration_of_a_live_slot_is_a_rejoin()
    {
        var events = new MembershipLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), observers: [events]);
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "a" });
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "a" });   // a retried Register

        Assert.Equal([(0, MembershipEvent.Registered), (0, MembershipEvent.Rejoined)], events.Changes.Select(c => (c.WorkerId, c.Event)));
    }

    [Fact]
    public async Task Waiting_for_a_step_or_a_piece_keeps_a_worker_alive()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5, heartbeatTimeoutMs: TimeoutMs) with { PieceFloats = 4 }, time: clock);
        RegisterAll(shard, 2);
        var piece = shard.ClosingRanges![0];
        for (int i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));
            // Step 0 is there: both waits return at once, and each is the worker's only call.
            await shard.WaitForStepAsync(0, 0, CancellationToken.None);
            await shard.WaitForPieceAsync(1, 0, piece, CancellationToken.None);
        }

        Assert.Equal(2, shard.Status().LiveWorkers);
    }

    [Fact]
    public void A_node_push_keeps_every_worker_it_speaks_for_alive()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5, heartbeatTimeoutMs: TimeoutMs), time: clock);
        RegisterAll(shard, 2);
        for (int step = 0; step < 4; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));
            // Worker 0's node aggregator pushes for both: worker 1 makes no call of its own.
            Assert.True(shard.Push(new PushHeader(0, step, 0, 2, 0, Contributors: new ContributorList([0, 1])), Filled(1f)).ClosedStep);
        }

        Assert.Equal(2, shard.Status().LiveWorkers);
    }

    /// <summary>Worker 0 keeps calling, worker 1 goes silent until it is evicted (well past the timeout).</summary>
    private static void SilenceWorker1(ParameterShard shard, ManualTimeProvider clock)
    {
        for (int i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 2));
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        }
        Assert.Equal(1, shard.Status().LiveWorkers);
    }

    private sealed class MembershipLog : IShardObserver
    {
        public List<MembershipChange> Changes { get; } = [];
        public void OnMembershipChanged(in MembershipChange change) => Changes.Add(change);
    }
}
