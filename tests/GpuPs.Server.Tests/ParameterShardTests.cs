using GpuPs.Core.Shards;
using GpuPs.Tests.Shared;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

public class ParameterShardTests
{
    [Fact]
    public void Bsp_step_closes_only_when_every_worker_pushed_and_applies_the_full_batch_mean()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: 5), Filled(1f));
        RegisterAll(shard, 3);
        // Gradient sums over 1, 2 and 5 rows: the mean over all 8 rows is (1 + 4 + 11) / 8 = 2.
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 1, 0.5), Filled(1f)).ClosedStep);
        Assert.False(shard.Push(new PushHeader(1, 0, 0, 2, 0.5), Filled(4f)).ClosedStep);
        Assert.Equal(Filled(1f), Parameters(shard));
        var reply = shard.Push(new PushHeader(2, 0, 0, 5, 0.5), Filled(11f));
        Assert.True(reply.ClosedStep);
        Assert.Equal(1, reply.Step);
        Assert.Equal(Filled(1f - 2f), Parameters(shard));
    }

    [Fact]
    public void Refused_pushes_leave_the_model_unchanged_with_the_right_status()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), Filled(3f));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        var before = Parameters(shard);

        AssertError(ShardErrorKind.InvalidRequest, "has 7 values", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), new float[Length - 1]));
        var nan = Filled(1f); nan[3] = float.NaN;
        AssertError(ShardErrorKind.InvalidRequest, "NaN", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), nan));
        var inf = Filled(1f); inf[7] = float.NegativeInfinity;
        AssertError(ShardErrorKind.InvalidRequest, "Inf", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), inf));
        AssertError(ShardErrorKind.InvalidRequest, "loss sum is not finite", () => shard.Push(new PushHeader(0, 1, 0, 1, double.NaN), Filled(1f)));
        AssertError(ShardErrorKind.InvalidRequest, "loss sum is not finite", () => shard.Push(new PushHeader(0, 1, 0, 1, double.PositiveInfinity), Filled(1f)));
        // Worker 0's step 0 was applied: pushing it again is a duplicate (a retry), not a straggler's late push.
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed step 0", shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f)));
        AssertOutcome(PushOutcomeKind.Refused, "still at step 1", shard.Push(new PushHeader(0, 2, 0, 1, 0), Filled(1f)));
        AssertError(ShardErrorKind.InvalidRequest, "worker id 5 is out of range", () => shard.Push(new PushHeader(5, 1, 0, 1, 0), Filled(1f)));
        AssertError(ShardErrorKind.InvalidRequest, "sample count", () => shard.Push(new PushHeader(0, 1, 0, 0, 0), Filled(1f)));
        AssertError(ShardErrorKind.InvalidRequest, "shard 3", () => shard.Push(new PushHeader(0, 1, 3, 1, 0), Filled(1f)));
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed", shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)));

        Assert.Equal(before, Parameters(shard));
        Assert.Equal(11, shard.Status().PushesRejected);
        Assert.Equal(3, shard.Status().PushesApplied);
    }

    [Fact]
    public void Registration_refuses_ids_out_of_range_and_a_full_job()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1));
        AssertError(ShardErrorKind.InvalidRequest, "out of range", () => shard.Register(new RegisterRequest { RequestedWorkerId = 2 }));
        RegisterAll(shard, 2);
        AssertError(ShardErrorKind.JobFull, "a restarted worker rejoins under its old id (--worker-id)", () => shard.Register(new RegisterRequest { RequestedWorkerId = -1 }));
    }

    [Fact]
    public void A_live_slot_is_granted_again_only_to_the_client_token_that_holds_it()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1));
        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "host/1/a", Host = "a" }).WorkerId);
        shard.Register(new RegisterRequest { RequestedWorkerId = 1 });

        AssertError(ShardErrorKind.SlotTaken, "worker 0 is held by another live client", () => shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "host/2/b" }));
        AssertError(ShardErrorKind.SlotTaken, "worker 0 is held", () => shard.Register(new RegisterRequest { RequestedWorkerId = 0 }));
        // A slot registered without a token is granted to nobody while it is live: an empty token matches nothing.
        AssertError(ShardErrorKind.SlotTaken, "worker 1 is held", () => shard.Register(new RegisterRequest { RequestedWorkerId = 1 }));
        AssertError(ShardErrorKind.SlotTaken, "worker 1 is held", () => shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "host/1/a" }));

        // The holder itself may register again (a retry whose reply was lost); the refusals changed nothing.
        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "host/1/a" }).WorkerId);
        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = -1, ClientToken = "host/1/a" }).WorkerId);
        Assert.Equal(2, shard.Status().RegisteredWorkers);
    }

    [Fact]
    public void An_evicted_slot_may_be_taken_by_a_restarted_worker_and_its_old_client_then_loses_it()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3, heartbeatTimeoutMs: 300), time: clock);
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "crashed" });
        shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "alive" });
        AssertError(ShardErrorKind.SlotTaken, "silent for 300 ms", () => shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "restarted" }));

        clock.Advance(TimeSpan.FromMilliseconds(250));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 1 });
        clock.Advance(TimeSpan.FromMilliseconds(250));   // worker 0 silent for 500 ms > 300 ms: evicted
        Assert.Equal(1, shard.Status().LiveWorkers);

        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "restarted" }).WorkerId);
        Assert.Equal(2, shard.Status().LiveWorkers);
        AssertError(ShardErrorKind.SlotTaken, "worker 0 is held", () => shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "crashed" }));
    }

    [Fact]
    public void A_retried_registration_with_the_same_token_gets_the_same_id()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1));
        var first = shard.Register(new RegisterRequest { RequestedWorkerId = -1, ClientToken = "host/1/a" });
        var retried = shard.Register(new RegisterRequest { RequestedWorkerId = -1, ClientToken = "host/1/a" });
        var other = shard.Register(new RegisterRequest { RequestedWorkerId = -1, ClientToken = "host/2/b" });
        Assert.Equal(first.WorkerId, retried.WorkerId);
        Assert.NotEqual(first.WorkerId, other.WorkerId);
    }

    [Fact]
    public void Asp_applies_every_push_exactly_once_at_once()
    {
        const int workers = 3, steps = 4;
        using var shard = Create(Job(SyncMode.Asp, workers, steps));
        RegisterAll(shard, workers);
        float expected = 0;
        for (int t = 0; t < steps; t++)
            for (int w = workers - 1; w >= 0; w--)
            {
                float g = w + 1 + t * 10;
                Assert.True(shard.Push(new PushHeader(w, t, 0, 2, 0), Filled(2 * g)).ClosedStep);
                expected -= g;
                Assert.Equal(Filled(expected), Parameters(shard));
            }
        AssertOutcome(PushOutcomeKind.Finished, "all 4 steps", shard.Push(new PushHeader(0, steps, 0, 1, 0), Filled(1f)));
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed", shard.Push(new PushHeader(1, 2, 0, 1, 0), Filled(1f)));
        var status = shard.Status();
        Assert.Equal(workers * steps, status.Step);
        Assert.True(status.Finished);
        Assert.Equal(Enumerable.Repeat((long)steps, workers), status.WorkerSteps);
    }

    [Fact]
    public async Task Ssp_blocks_a_worker_that_is_staleness_steps_ahead_until_the_slowest_catches_up()
    {
        using var shard = Create(Job(SyncMode.Ssp, workers: 2, steps: 10, staleness: 2));
        RegisterAll(shard, 2);
        for (int t = 0; t < 3; t++)
        {
            await shard.WaitForStepAsync(0, 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            shard.Push(new PushHeader(0, t, 0, 1, 0), Filled(1f));
        }
        // Worker 0 has clock 3, worker 1 clock 0: a lead of 3 > 2.
        // Only a push can release it (nothing else pulses the shard here), so no waiting is needed to see it blocked.
        var blocked = shard.WaitForStepAsync(0, 0, CancellationToken.None);
        Assert.False(blocked.IsCompleted);
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        await blocked.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, shard.Status().MaxStalenessSeen);
    }

    [Fact]
    public void A_synchronous_push_after_the_job_finished_is_refused()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1), Filled(1f));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f)).JobFinished);
        var finished = Parameters(shard);

        // Step 1 is the shard's step now, so only the finished check stands between this push and a second update.
        AssertOutcome(PushOutcomeKind.Finished, "the job finished at step 1", shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)));
        AssertOutcome(PushOutcomeKind.Finished, "the job finished at step 1", shard.Admit(new PushHeader(1, 1, 0, 1, 0)));
        Assert.Equal(finished, Parameters(shard));
        Assert.Equal(1, shard.Status().Step);
    }

    [Fact]
    public void Ssp_refuses_a_push_that_would_run_more_than_staleness_steps_ahead_even_without_a_pull()
    {
        using var shard = Create(Job(SyncMode.Ssp, workers: 2, steps: 10, staleness: 2));
        RegisterAll(shard, 2);
        for (int t = 0; t < 3; t++) shard.Push(new PushHeader(0, t, 0, 1, 0), Filled(1f));

        // Worker 0 never pulled: its clock is 3, worker 1's is 0, so a fourth push would make a lead of 3 > 2.
        AssertOutcome(PushOutcomeKind.Refused, "staleness bound 2", shard.Push(new PushHeader(0, 3, 0, 1, 0), Filled(1f)));
        AssertOutcome(PushOutcomeKind.Refused, "staleness bound 2", shard.Admit(new PushHeader(0, 3, 0, 1, 0)));
        Assert.Equal(Filled(-3f), Parameters(shard));

        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        Assert.True(shard.Push(new PushHeader(0, 3, 0, 1, 0), Filled(1f)).ClosedStep);
        Assert.Equal(new long[] { 4, 1 }, shard.Status().WorkerSteps);
    }

    [Fact]
    public async Task Bsp_evicts_a_silent_worker_closes_the_step_without_it_and_readmits_it_when_it_calls_again()
    {
        var clock = new ManualTimeProvider();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3, heartbeatTimeoutMs: 300), Filled(1f), clock);
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        var next = shard.WaitForStepAsync(0, 1, CancellationToken.None);

        clock.Advance(TimeSpan.FromMilliseconds(250));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        Assert.False(next.IsCompleted);
        Assert.Equal(2, shard.Status().LiveWorkers);

        // Worker 1 has now been silent for 500 ms > 300 ms, worker 0 for 250 ms.
        clock.Advance(TimeSpan.FromMilliseconds(250));
        await next.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Filled(0f), Parameters(shard));
        Assert.Equal(1, shard.Status().LiveWorkers);

        // It calls again: it is back, at the shard's step, and BSP waits for it again.
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 1 });
        Assert.Equal(2, shard.Status().LiveWorkers);
        Assert.False(shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)).ClosedStep);
        Assert.True(shard.Push(new PushHeader(1, 1, 0, 1, 0), Filled(1f)).ClosedStep);
        Assert.Equal(Filled(-1f), Parameters(shard));
    }

    [Fact]
    public void Ids_out_of_range_are_invalid_and_ids_in_range_but_not_registered_are_unknown_on_every_call()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: 5));
        RegisterAll(shard, 2);

        foreach (int id in new[] { -2, 3, int.MaxValue })
        {
            AssertError(ShardErrorKind.InvalidRequest, "out of range", () => shard.Push(new PushHeader(id, 0, 0, 1, 0), Filled(1f)));
            AssertError(ShardErrorKind.InvalidRequest, "out of range", () => shard.Heartbeat(new HeartbeatRequest { WorkerId = id }));
            AssertError(ShardErrorKind.InvalidRequest, "out of range", () => shard.WaitForStepAsync(id, 0, CancellationToken.None).GetAwaiter().GetResult());
        }
        AssertError(ShardErrorKind.UnknownWorker, "worker 2 is not registered", () => shard.Push(new PushHeader(2, 0, 0, 1, 0), Filled(1f)));
        AssertError(ShardErrorKind.UnknownWorker, "worker 2 is not registered", () => shard.Heartbeat(new HeartbeatRequest { WorkerId = 2 }));
    }

    [Fact]
    public async Task An_asp_pull_waits_for_the_updates_its_min_step_asks_for()
    {
        using var shard = Create(Job(SyncMode.Asp, workers: 2, steps: 10));
        RegisterAll(shard, 2);
        var waiting = shard.WaitForStepAsync(1, minStep: 2, CancellationToken.None);

        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        Assert.False(waiting.IsCompleted);                     // one update applied, two asked for
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(shard.WaitForStepAsync(1, minStep: 0, CancellationToken.None).IsCompleted);   // what the worker loop asks
    }

    [Fact]
    public void Refusals_are_logged_with_worker_step_and_shard()
    {
        var log = new CapturedLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), log: log.Logger);
        RegisterAll(shard, 2);
        Assert.Equal(PushOutcomeKind.Refused, shard.Push(new PushHeader(1, 3, 0, 1, 0), Filled(1f)).Kind);

        var refusal = Assert.Single(log.Events, e => e.MessageTemplate.Text.StartsWith("Refused push", StringComparison.Ordinal));
        Assert.Equal(1, CapturedLog.Property(refusal, "WorkerId"));
        Assert.Equal(3L, CapturedLog.Property(refusal, "Step"));
        Assert.Equal(0, CapturedLog.Property(refusal, "Shard"));
        Assert.Contains("still at step 0", (string)CapturedLog.Property(refusal, "Reason")!);
    }

}
