using Grpc.Core;
using GpuPs.Protocol;
using static GpuPs.Integration.Tests.Server.ShardFixture;

namespace GpuPs.Integration.Tests.Server;

public class ParameterShardTests
{
    [Fact]
    public void Bsp_step_closes_only_when_every_worker_pushed_and_applies_the_full_batch_mean()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: 5), Filled(1f));
        RegisterAll(shard, 3);
        // Gradient sums over 1, 2 and 5 rows: the mean over all 8 rows is (1 + 4 + 11) / 8 = 2.
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 1, 0.5), Filled(1f)).Applied);
        Assert.False(shard.Push(new PushHeader(1, 0, 0, 2, 0.5), Filled(4f)).Applied);
        Assert.Equal(Filled(1f), Parameters(shard));
        var reply = shard.Push(new PushHeader(2, 0, 0, 5, 0.5), Filled(11f));
        Assert.True(reply.Applied);
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

        AssertRefused(StatusCode.InvalidArgument, "has 7 values", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), new float[Length - 1]));
        var nan = Filled(1f); nan[3] = float.NaN;
        AssertRefused(StatusCode.InvalidArgument, "NaN", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), nan));
        var inf = Filled(1f); inf[7] = float.NegativeInfinity;
        AssertRefused(StatusCode.InvalidArgument, "Inf", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), inf));
        AssertRefused(StatusCode.FailedPrecondition, "closed", () => shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f)));
        AssertRefused(StatusCode.FailedPrecondition, "still at step 1", () => shard.Push(new PushHeader(0, 2, 0, 1, 0), Filled(1f)));
        AssertRefused(StatusCode.NotFound, "worker 5", () => shard.Push(new PushHeader(5, 1, 0, 1, 0), Filled(1f)));
        AssertRefused(StatusCode.InvalidArgument, "sample count", () => shard.Push(new PushHeader(0, 1, 0, 0, 0), Filled(1f)));
        AssertRefused(StatusCode.InvalidArgument, "shard 3", () => shard.Push(new PushHeader(0, 1, 3, 1, 0), Filled(1f)));
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        AssertRefused(StatusCode.AlreadyExists, "already pushed", () => shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)));

        Assert.Equal(before, Parameters(shard));
        Assert.Equal(9, shard.Status().PushesRejected);
        Assert.Equal(3, shard.Status().PushesApplied);
    }

    [Fact]
    public void Registration_refuses_ids_out_of_range_and_a_full_job()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 1));
        AssertRefused(StatusCode.InvalidArgument, "out of range", () => shard.Register(new RegisterRequest { RequestedWorkerId = 2 }));
        RegisterAll(shard, 2);
        AssertRefused(StatusCode.ResourceExhausted, "all 2 workers", () => shard.Register(new RegisterRequest { RequestedWorkerId = -1 }));
        Assert.Equal(1, shard.Register(new RegisterRequest { RequestedWorkerId = 1 }).WorkerId);
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
                Assert.True(shard.Push(new PushHeader(w, t, 0, 2, 0), Filled(2 * g)).Applied);
                expected -= g;
                Assert.Equal(Filled(expected), Parameters(shard));
            }
        AssertRefused(StatusCode.FailedPrecondition, "all 4 steps", () => shard.Push(new PushHeader(0, steps, 0, 1, 0), Filled(1f)));
        AssertRefused(StatusCode.AlreadyExists, "already pushed", () => shard.Push(new PushHeader(1, 2, 0, 1, 0), Filled(1f)));
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
        var blocked = shard.WaitForStepAsync(0, 0, CancellationToken.None);
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        await blocked.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, shard.Status().MaxStalenessSeen);
    }

    [Fact]
    public async Task Bsp_evicts_a_silent_worker_and_closes_the_step_without_it()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3, heartbeatTimeoutMs: 300), Filled(1f));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        var next = shard.WaitForStepAsync(0, 1, CancellationToken.None);
        for (int i = 0; i < 10 && !next.IsCompleted; i++)
        {
            await Task.Delay(100);
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        }
        await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(Filled(0f), Parameters(shard));
        Assert.Equal(1, shard.Status().LiveWorkers);
    }

    private static void AssertRefused(StatusCode code, string messagePart, Action action)
    {
        var e = Assert.Throws<GpuPsException>(action);
        Assert.Equal(code, e.Code);
        Assert.Contains(messagePart, e.Message);
    }
}
