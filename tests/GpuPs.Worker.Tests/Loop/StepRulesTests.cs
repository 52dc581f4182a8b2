using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Tests.Fakes;
using Serilog;

namespace GpuPs.Worker.Tests.Loop;

/// <summary>
/// The worker loop's step rules, each seen from outside: what the shards received and what the worker's report says
/// (<see cref="InProcessShard"/> counts every call): fused pulls, rejoining a restarted shard and giving that up,
/// the heartbeats' step, the round-robin pacer, the registration's fields and the bytes pulled.
/// </summary>
public class StepRulesTests
{
    private const int Parameters = SmallJob.Parameters;

    private static TrainingJob Job(SyncMode mode, int workers, long steps, int staleness = 0) =>
        SmallJob.Softmax(mode, workers, steps) with { Staleness = staleness };

    private static void AssertFullBatchDescent(InProcessCluster cluster, float learningRate) => SmallJob.AssertFullBatchDescent(cluster, learningRate);

    private static Func<WorkerOptions, WorkerOptions> Fused(bool fused) => o => o with { FusedPushPull = fused };

    [Fact]
    public void A_worker_without_a_server_address_is_refused()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        var e = Assert.Throws<ArgumentException>(() => new TrainingWorker(new WorkerOptions([]), backend, Log.Logger, _ => throw new InvalidOperationException()));
        Assert.Contains("at least one server", e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_asp_worker_takes_each_step_s_parameters_from_the_last_push_where_the_plane_fuses_them_unless_told_not_to(bool fuse)
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Asp, workers: 1, steps: 5), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;

        var report = (await cluster.RunAsync(1, CancellationToken.None, Fused(fuse)))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal(5, report.Steps);
        // Fused: every step after the first comes with the last push (5 pushes carry a pull); else 5 pulls of its own.
        Assert.Equal(fuse ? 4 : 0, report.FusedPulls);
        int pulls = fuse ? 1 + 5 : 5;
        Assert.All(cluster.Fakes, f => Assert.Equal(pulls, f.Pulls));
        Assert.Equal(pulls * Parameters * sizeof(float), report.BytesPulled);   // all in full, 4 bytes a value
    }

    [Fact]
    public async Task Bsp_workers_whose_plane_fuses_get_every_later_step_from_their_push_and_descend_exactly()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 2, steps: 4), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;

        var reports = await cluster.RunAsync(2, CancellationToken.None, Fused(true));

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.All(reports, r => Assert.Equal(4, r.Steps));
        // Every push brought the next step back, the last one the news that the job finished.
        Assert.All(reports, r => Assert.Equal(4, r.FusedPulls));
        Assert.All(reports, r => Assert.Equal(0, r.StepsAbandoned));
        // Per worker: the first pull, then the one each of its 4 pushes carried (the last finds the job finished).
        Assert.All(cluster.Fakes, f => Assert.Equal(2 * (1 + 4), f.Pulls));
        Assert.All(reports, r => Assert.Equal(4, r.PushLatencies.Count));
    }

    [Theory]
    [InlineData(false, true)]    // a plane that cannot fuse
    [InlineData(true, false)]    // a worker told not to fuse
    public async Task Bsp_workers_without_fusing_prefetch_the_next_step_while_computing_and_abandon_nothing(bool planeFuses, bool workerFuses)
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 4), shards: 1, learningRate: 0.5f);
        cluster.Fakes[0].Fuses = planeFuses;

        var report = (await cluster.RunAsync(1, CancellationToken.None, Fused(workerFuses)))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal((4, 0L, 0L), (report.Steps, report.FusedPulls, report.StepsAbandoned));
        // The first pull, then each step's prefetch of the next, sent before the step's push; the last finds the job finished.
        var transfers = cluster.Fakes[0].Transfers.Select(t => (t.Push, t.Step)).ToList();
        Assert.Equal([(false, 0L), (false, 1), (true, 0), (false, 2), (true, 1), (false, 3), (true, 2), (false, 4), (true, 3)], transfers);
        Assert.Equal((1 + 4) * Parameters * sizeof(float), report.BytesPulled);
        Assert.True(report.PullSeconds > 0);
    }

    [Fact]
    public async Task A_bsp_worker_whose_fused_push_brings_no_pull_back_pulls_the_next_step_itself()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 4), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) (f.Fuses, f.AnswersFusedPulls) = (true, false);

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal((4, 0L), (report.Steps, report.FusedPulls));
        // Fused steps pull after their push, not while they compute.
        var transfers = cluster.Fakes[0].Transfers.Select(t => (t.Push, t.Step)).ToList();
        Assert.Equal([(false, 0L), (true, 0), (false, 1), (true, 1), (false, 2), (true, 2), (false, 3), (true, 3), (false, 4)], transfers);
        Assert.True(report.PullSeconds > 0);
    }

    [Fact]
    public async Task The_wait_of_a_fused_pull_after_its_push_was_answered_is_counted_as_pull_time()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Asp, workers: 1, steps: 3), shards: 1, learningRate: 0.5f);
        (cluster.Fakes[0].Fuses, cluster.Fakes[0].FusedPullDelay) = (true, TimeSpan.FromMilliseconds(60));

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        Assert.Equal(2, report.FusedPulls);
        Assert.True(report.PullSeconds >= 2 * 0.05, $"pull time {report.PullSeconds} misses the fused pulls' 60 ms waits");
    }

    [Fact]
    public async Task A_worker_of_a_mode_that_closes_steps_without_stragglers_fuses_once_its_work_is_shorter_than_its_push()
    {
        // Backup, 2 workers, 1 backup: a step closes with the first push. Pushes take 400 ms on the link, far longer than
        // a step's compute: after its first step (whose length is not known yet, so it prefetches) a worker fuses. Each
        // of steps 1-3 is closed by a fused push, which brings the next step (or the job's end) back.
        var job = Job(SyncMode.Backup, workers: 2, steps: 4) with { Stragglers = 1 };
        using var cluster = new InProcessCluster(job, shards: 1, learningRate: 0.5f);
        (cluster.Fakes[0].Fuses, cluster.Fakes[0].PushDelay) = (true, TimeSpan.FromMilliseconds(400));

        var reports = await cluster.RunAsync(2, CancellationToken.None);

        Assert.True(reports.Sum(r => r.FusedPulls) >= 3, $"fused pulls {reports.Sum(r => r.FusedPulls)}: steps 1-3 were not fused");
    }

    [Fact]
    public async Task A_worker_of_a_mode_that_closes_steps_without_stragglers_keeps_prefetching_while_its_work_is_longer_than_its_push()
    {
        // The same job with 300 ms of injected delay a step and instant pushes: abandoning a step can save more than
        // fusing, so nobody fuses even though the plane could.
        var job = Job(SyncMode.Backup, workers: 2, steps: 3) with { Stragglers = 1, StragglerModel = "persistent:workers=0+1,delay=0.3" };
        using var cluster = new InProcessCluster(job, shards: 1, learningRate: 0.5f);
        cluster.Fakes[0].Fuses = true;

        var reports = await cluster.RunAsync(2, CancellationToken.None);

        Assert.All(reports, r => Assert.Equal(0, r.FusedPulls));
    }

    [Fact]
    public async Task A_worker_that_a_restarted_shard_no_longer_knows_rejoins_under_its_id_and_goes_on()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 4), shards: 1, learningRate: 0.5f);
        cluster.Fakes[0].ForgetWorkerNext(3);

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal(1 + 3, cluster.Fakes[0].Registrations);
        Assert.Equal(0, report.WorkerId);
        Assert.Equal(4, report.Steps);
    }

    [Fact]
    public async Task A_worker_rejoins_a_restarting_shard_at_most_ten_times_then_fails_with_its_error()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 3), shards: 1, learningRate: 0.5f);
        cluster.Fakes[0].ForgetWorkerNext(TrainingWorker.MaxRejoins);
        var finished = (await cluster.RunAsync(1, CancellationToken.None))[0];
        Assert.Equal(3, finished.Steps);
        Assert.Equal(1 + TrainingWorker.MaxRejoins, cluster.Fakes[0].Registrations);

        using var failing = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 3), shards: 1, learningRate: 0.5f);
        failing.Fakes[0].ForgetWorkerNext(TrainingWorker.MaxRejoins + 1);
        await using var worker = failing.Worker();
        var e = await Assert.ThrowsAsync<ShardException>(() => worker.RunAsync(CancellationToken.None));
        Assert.Equal(ShardErrorKind.UnknownWorker, e.Kind);
        Assert.Equal(1 + TrainingWorker.MaxRejoins, failing.Fakes[0].Registrations);
    }

    [Fact]
    public async Task Heartbeats_report_the_step_the_worker_computes_and_its_registration_names_host_and_device()
    {
        // Heartbeats every second (a third of 3 s); step 2 holds the worker until a heartbeat has reported it. While it is
        // held, heartbeats are the worker's only answered calls: at a 150 ms timeout a 150 ms stall of the loaded test
        // process gave the shards up (a CI run has seen heartbeats unanswered for 1.59 s).
        var job = Job(SyncMode.Bsp, workers: 1, steps: 4) with { HeartbeatTimeoutMs = 3_000 };
        using var cluster = new InProcessCluster(job, shards: 2, learningRate: 0.5f);
        var hook = new WaitingHook(2, () => cluster.Fakes.All(f => f.HeartbeatRequests.Any(h => h.Step == 2)));
        await using var worker = cluster.Worker(hook: _ => hook, configure: o => o with { Host = "node-7" });
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var report = await worker.RunAsync(guard.Token);

        Assert.Equal(4, report.Steps);
        Assert.All(cluster.Fakes, f => Assert.All(f.HeartbeatRequests, h => Assert.Equal(0, h.WorkerId)));
        var me = cluster.Shards[0].Status().Workers.Single(w => w.WorkerId == 0);
        Assert.Equal("node-7", me.Host);
        Assert.Equal(cluster.Backend.DeviceName, me.Device);
        Assert.Equal(cluster.Backend.DeviceName, report.Device);
    }

    [Fact]
    public async Task A_round_robin_worker_reports_its_step_times_to_the_coordinator_and_follows_the_slot_it_gets()
    {
        var job = Job(SyncMode.Bsp, workers: 1, steps: 4) with { Schedule = PushSchedule.RoundRobin };
        using var cluster = new InProcessCluster(job, shards: 2, learningRate: 0.5f);
        cluster.Fakes[0].Slot = new PushSlot { Version = 3, OffsetSeconds = 0, Order = 0 };

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal(3, report.PushSlotVersion);
        // Each step's report goes to the coordinator alone, with the step, the slot it pushed under and its times.
        var reports = cluster.Fakes[0].HeartbeatRequests.Where(h => h.ComputeSeconds > 0).ToList();
        Assert.NotEmpty(reports);
        Assert.All(reports, r => Assert.True(r.PushSeconds > 0));
        Assert.Contains(reports, r => r.SlotVersion == 3);
        Assert.DoesNotContain(cluster.Fakes[1].HeartbeatRequests, h => h.ComputeSeconds > 0);
    }

    [Fact]
    public async Task A_worker_of_a_simultaneous_job_has_no_slot_and_reports_no_step_times()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, workers: 1, steps: 4), shards: 1, learningRate: 0.5f);
        cluster.Fakes[0].Slot = new PushSlot { Version = 3 };

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        Assert.Equal(0, report.PushSlotVersion);
        Assert.DoesNotContain(cluster.Fakes[0].HeartbeatRequests, h => h.ComputeSeconds > 0);
    }

    [Fact]
    public async Task An_ssp_worker_alone_runs_every_step_and_stops_when_its_steps_are_done()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Ssp, workers: 1, steps: 3, staleness: 1), shards: 1, learningRate: 0.5f);

        var report = (await cluster.RunAsync(1, CancellationToken.None))[0];

        AssertFullBatchDescent(cluster, 0.5f);
        Assert.Equal(3, report.Steps);
        Assert.Equal(3, cluster.Fakes[0].Pushes);
        Assert.True(report.PullSeconds >= 0 && report.PushSeconds > 0 && report.ComputeSeconds > 0);
    }

    /// <summary>Holds step <paramref name="atStep"/> (after its first partition) until <paramref name="until"/> holds.</summary>
    private sealed class WaitingHook(long atStep, Func<bool> until) : IWorkerStepHook
    {
        private long _step;
        public int ComputeRuns => 1;
        public void BeginStep(long step, int load) => _step = step;
        public async Task AfterPartitionAsync(CancellationToken cancellationToken)
        {
            while (_step == atStep && !until()) await Task.Delay(10, cancellationToken);
        }
        public void EndStep(TimeSpan compute) { }
    }
}
