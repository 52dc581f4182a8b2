using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Tests.Fakes;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;

namespace GpuPs.Worker.Tests;

/// <summary>
/// The worker loop against real shards in this process, reached through a fake transport (<see cref="InProcessShard"/>):
/// what it pushes, when it abandons a step, how it retries and when it gives up — no sockets, no gRPC.
/// </summary>
public class WorkerLoopTests
{
    private static TrainingJob Job(SyncMode mode, int workers, long steps, int stragglers = 0, string stragglerModel = "none") => new()
    {
        // 303 rows: the training set splits unequally over the workers, so a mean of per-worker means would differ.
        Dataset = "synthetic:rows=303,features=6,classes=3",
        Model = new ModelShape(Kernels.ModelKind.Softmax, 6, 3),
        Mode = SyncModes.Of(mode), Workers = workers, Stragglers = stragglers, Code = mode == SyncMode.Coded ? "fractional" : "auto",
        StragglerModel = stragglerModel, Steps = steps, Seed = 5, HeartbeatTimeoutMs = 60_000,
    };

    private static double[] Reference(InProcessCluster cluster, float learningRate)
    {
        var data = cluster.Data();
        return FullBatchDescent.Descend(data, new ModelShape(Kernels.ModelKind.Softmax, data.FeatureCount, data.ClassCount), cluster.Job.Seed, cluster.Job.Steps, learningRate);
    }

    [Fact]
    public async Task Bsp_workers_on_two_shards_descend_exactly_like_full_batch_gradient_descent()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 3, steps: 4), shards: 2, learningRate: 0.5f);
        var reports = await cluster.RunAsync(3, CancellationToken.None);

        FullBatchDescent.AssertClose(Reference(cluster, 0.5f), cluster.Parameters(), 1e-5);
        Assert.All(reports, r => Assert.Equal(4, r.Steps));
        Assert.All(reports, r => Assert.Equal(0, r.PushesDropped));
        // One push per worker per step to each shard, each the shard's slice.
        Assert.All(cluster.Fakes, f => Assert.Equal(3 * 4, f.Pushes));
        Assert.Equal(4 * 21 * sizeof(float), reports[0].BytesPushed);
    }

    [Fact]
    public async Task A_coded_worker_that_straggles_abandons_its_steps_and_the_model_is_still_exact()
    {
        // Fractional code, n = 4, s = 1: groups {0, 1} and {2, 3}. Worker 1 is 2 s late every step; worker 0 covers its
        // group, so every step closes without worker 1, which abandons its step before pushing anything and then finds
        // the job finished.
        var job = Job(SyncMode.Coded, workers: 4, steps: 3, stragglers: 1, stragglerModel: "persistent:workers=1,delay=2");
        using var cluster = new InProcessCluster(job, shards: 1, learningRate: 0.5f);
        var reports = await cluster.RunAsync(4, CancellationToken.None);

        FullBatchDescent.AssertClose(Reference(cluster, 0.5f), cluster.Parameters(), 1e-5);
        var slow = reports.Single(r => r.WorkerId == 1);
        Assert.Equal(0, slow.BytesPushed);
        Assert.Equal(0, slow.Steps);
        Assert.True(slow.StepsAbandoned >= 1, "worker 1 never abandoned a step");
        // Worker 0 is group {0, 1}'s only fast member: every step waits for it, so it never abandons one.
        Assert.Equal(0, reports.Single(r => r.WorkerId == 0).StepsAbandoned);
    }

    [Fact]
    public async Task A_push_whose_reply_was_lost_is_retried_and_applied_exactly_once()
    {
        // Worker 0's first push reaches shard 1 and is applied, but the reply is lost: the client pushes it again while the
        // step is still open (worker 1 is 0.2 s late every step), the shard answers Duplicate, and the step still sums
        // each worker's gradient once.
        var job = Job(SyncMode.Bsp, workers: 2, steps: 3, stragglerModel: "persistent:workers=1,delay=0.2");
        using var cluster = new InProcessCluster(job, shards: 2, learningRate: 0.5f);
        cluster.Fakes[1].LoseNextReplyOf(0);

        var reports = await cluster.RunAsync(2, CancellationToken.None);

        FullBatchDescent.AssertClose(Reference(cluster, 0.5f), cluster.Parameters(), 1e-5);
        Assert.Equal(2 * 3 + 1, cluster.Fakes[1].Pushes);
        Assert.Equal(1, reports.Sum(r => r.PushesDropped));
    }

    [Fact]
    public async Task Calls_to_an_unreachable_shard_are_retried_and_the_run_is_unchanged()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 3), shards: 2, learningRate: 0.5f);
        cluster.Fakes[1].FailNext(3);   // register (twice) and more: each retried after a backoff

        var reports = await cluster.RunAsync(1, CancellationToken.None);

        FullBatchDescent.AssertClose(Reference(cluster, 0.5f), cluster.Parameters(), 1e-5);
        Assert.Equal(3, reports[0].Steps);
    }

    [Fact]
    public async Task A_shard_lost_for_good_mid_run_fails_the_worker_with_its_error_instead_of_hanging_on_the_other_shard()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 50), shards: 2, learningRate: 0.5f);
        // From step 2 on, shard 1 answers nothing: the push to it fails after 2 attempts, and the pull of step 3 that
        // waits on shard 0 must be cancelled rather than wait for a step that can never come.
        var hook = new LosingShardHook(2, () => cluster.Fakes[1].FailNext(int.MaxValue));
        await using var worker = cluster.Worker(maxRetries: 2, hook: _ => hook);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var e = await Assert.ThrowsAsync<ShardException>(() => worker.RunAsync(guard.Token));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("shard 1", e.Message);
        Assert.False(guard.IsCancellationRequested, "the worker hung until the guard fired");
    }

    [Fact]
    public async Task A_frozen_shard_is_given_up_within_the_heartbeat_timeout_even_while_a_call_to_it_waits()
    {
        // Calls have a 30 s deadline; the heartbeat timeout is 3 s. Shard 1 freezes at step 2 (a SIGSTOPped server:
        // it answers nothing, every deadline passes): the worker must fail naming it long before any call's deadline.
        // Not less than 3 s: shard 0 then lives by its heartbeats alone, and a loaded process that answers none of them
        // for the timeout gives shard 0 up instead (a CI run has seen heartbeats unanswered for 1.59 s).
        var job = Job(SyncMode.Bsp, workers: 1, steps: 50) with { HeartbeatTimeoutMs = 3_000 };
        using var cluster = new InProcessCluster(job, shards: 2, learningRate: 0.5f);
        var hook = new LosingShardHook(2, () => cluster.Fakes[1].Freeze());
        await using var worker = cluster.Worker(callTimeout: TimeSpan.FromSeconds(30), hook: _ => hook);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var e = await Assert.ThrowsAsync<ShardException>(() => worker.RunAsync(guard.Token));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("shard 1", e.Message);
        Assert.Contains("answered nothing", e.Message);
        Assert.False(guard.IsCancellationRequested, "the worker waited for the 30 s deadline instead of the heartbeat timeout");
    }

    /// <summary>Runs <paramref name="action"/> when step <paramref name="atStep"/> begins.</summary>
    private sealed class LosingShardHook(long atStep, Action action) : IWorkerStepHook
    {
        public int ComputeRuns => 1;
        public void BeginStep(long step, int load) { if (step == atStep) action(); }
        public Task AfterPartitionAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void EndStep(TimeSpan compute) { }
    }
}
