using System.Diagnostics;
using GpuPs.Core.Compression;
using GpuPs.Core.Data;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Tests.Fakes;
using Serilog;

namespace GpuPs.Worker.Tests;

/// <summary>
/// One worker's step (<see cref="StepComputation"/>) against a real shard in this process: what it pushes, how it counts
/// pushes the shard refused, and where the step's time goes, phase by phase (<see cref="WorkerStepPhases"/>): every
/// phase lies within the step's wall time, the steps tile the worker's time, and a fused push's answer ends its phase.
/// </summary>
public sealed class StepComputationTests : IAsyncDisposable
{
    private const int Parameters = SmallJob.Parameters;
    private readonly InProcessCluster _cluster;
    private readonly ShardedParameterClient _client;
    private readonly CountingKernel _kernel;
    private readonly PartitionPlan _plan;
    private readonly WorkerReport _report = new(0, "test");

    public StepComputationTests() : this(SyncMode.Bsp) { }

    private StepComputationTests(SyncMode mode, int workers = 1, int stragglers = 0, PushSchedule schedule = PushSchedule.Simultaneous)
    {
        var job = SmallJob.Softmax(mode, workers, steps: 3) with { Stragglers = stragglers, Schedule = schedule };
        _cluster = new InProcessCluster(job, shards: 2, learningRate: 0.5f);
        _client = _cluster.Client();
        _client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None).GetAwaiter().GetResult();
        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        _kernel = new CountingKernel(_cluster.Backend.CreateGradientKernel(job.Model));
        _plan = new PartitionPlan(data.Train, job.Mode.Assignment(job), 0, job.BatchSize);
        _kernel.SetData(_plan.Data.Features, _plan.Data.Labels);
    }

    private StepComputation Step(IWorkerStepHook? hook = null, TensorEncoding wire = TensorEncoding.Float32, PushPacer? pacer = null,
        CompressionSettings? compression = null) =>
        new(_plan, _kernel, _cluster.Job.Mode.CreatePushPolicy(_plan, 0), hook ?? new Hook(), _client, _report, Log.Logger, wire, pacer, compression);

    private async Task<float[]> PullAsync(long step)
    {
        var parameters = new float[Parameters];
        await _client.PullAsync(step, parameters, CancellationToken.None);
        return parameters;
    }

    private static void AssertWithinWall(WorkerStepPhases p) =>
        Assert.True(p.OtherSeconds >= -1e-6, $"step {p.Step}: the phases ({p}) add up to more than its wall time");

    [Fact]
    public async Task A_step_pushes_its_gradient_once_and_accounts_for_every_phase_within_its_wall_time()
    {
        var hook = new Hook(delay: TimeSpan.FromMilliseconds(50));
        var step = Step(hook);
        Assert.Equal(double.PositiveInfinity, step.LastWorkSeconds);

        Assert.False(await step.RunAsync(0, await PullAsync(0), CancellationToken.None, CancellationToken.None, pullSeconds: 0.25));

        Assert.Equal(0, step.Current);
        var p = Assert.Single(_report.StepPhases);
        Assert.Equal((0L, 0.25), (p.Step, p.PullSeconds));
        Assert.True(p.DelaySeconds >= 0.04, $"delay {p.DelaySeconds}");
        Assert.True(p.ComputeSeconds > 0 && p.EncodeSeconds > 0 && p.PushSeconds > 0 && p.LoadSeconds > 0, p.ToString());
        Assert.Equal(0, p.CompressSeconds);
        AssertWithinWall(p);   // the first step began where its pull began: 0.25 s before its compute
        Assert.True(p.StartedAt > 1.7e9, "StartedAt is Unix seconds");
        Assert.Equal((1L, 0L), (_report.Steps, _report.PushesDropped));
        Assert.Equal(p.ComputeSeconds, _report.ComputeSeconds);
        Assert.Equal(p.PushSeconds, _report.PushSeconds);
        Assert.Equal(Parameters * sizeof(float), _report.BytesPushed);
        Assert.Equal(step.LastPushSeconds, Assert.Single(_report.PushLatencies));
        Assert.True(step.LastWorkSeconds >= 0.04 && step.LastWorkSeconds < double.PositiveInfinity);
        Assert.Equal((1, 1), (hook.Began, hook.Ended));
        Assert.Equal(_plan.Held.Count, hook.Partitions);
        Assert.All(_cluster.Fakes, f => Assert.Equal(1, f.Pushes));
        // The push carries the step's loss over its rows: softmax's cross-entropy from 3 classes starts near ln 3.
        Assert.InRange(_cluster.Status().MeanLoss, 0.5, 2.0);

        // The next steps begin where the last one's push was answered: they tile the worker's time.
        Assert.False(await step.RunAsync(1, await PullAsync(1), CancellationToken.None, CancellationToken.None));
        Assert.True(await step.RunAsync(2, await PullAsync(2), CancellationToken.None, CancellationToken.None));   // the last: the job finished
        Assert.Equal(3, _report.Steps);
        Assert.All(_report.StepPhases, AssertWithinWall);
        Assert.Equal([0L, 1, 2], _report.StepPhases.Select(s => s.Step));
        Assert.Equal(_report.StepPhases.Sum(s => s.ComputeSeconds), _report.ComputeSeconds, 9);
    }

    [Fact]
    public async Task A_push_the_shards_refuse_is_counted_as_dropped_and_its_bytes_are_not()
    {
        var step = Step();

        Assert.False(await step.RunAsync(2, await PullAsync(0), CancellationToken.None, CancellationToken.None));

        Assert.Equal(2, _report.PushesDropped);   // one per shard
        Assert.Equal(0, _report.BytesPushed);
        Assert.Equal(0, _cluster.Status().Step);
    }

    [Fact]
    public async Task A_step_whose_compute_is_cancelled_pushes_nothing_and_records_no_phases()
    {
        var step = Step();
        using var closed = new CancellationTokenSource();
        closed.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => step.RunAsync(0, new float[Parameters], closed.Token, CancellationToken.None));

        Assert.Equal(0, _report.Steps);
        Assert.Empty(_report.StepPhases);
        Assert.All(_cluster.Fakes, f => Assert.Equal(0, f.Pushes));
        Assert.True(step.LastWorkSeconds < double.PositiveInfinity, "an abandoned step's work time is still measured");
    }

    [Fact]
    public async Task A_throttled_worker_computes_each_batch_again_and_discards_the_repeats()
    {
        var step = Step(new Hook(runs: 3));
        var parameters = await PullAsync(0);
        var alone = await ExpectedAfterOneStepAsync(parameters);

        await step.RunAsync(0, parameters, CancellationToken.None, CancellationToken.None);

        Assert.Equal(2 * _kernel.Added, _kernel.Discarded);
        Assert.True(_kernel.Added > 0);
        Assert.Equal(alone, _cluster.Parameters());
    }

    /// <summary>The parameters one plain step from <paramref name="start"/> gives, on a second cluster of the same job.</summary>
    private async Task<float[]> ExpectedAfterOneStepAsync(float[] start)
    {
        using var twin = new InProcessCluster(_cluster.Job, shards: 2, learningRate: 0.5f);
        await using var client = twin.Client();
        await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);
        await new StepComputation(_plan, _kernel, _cluster.Job.Mode.CreatePushPolicy(_plan, 0), new Hook(), client, new WorkerReport(0, "twin"), Log.Logger)
            .RunAsync(0, start, CancellationToken.None, CancellationToken.None);
        (_kernel.Added, _kernel.Discarded) = (0, 0);
        return twin.Parameters();
    }

    [Fact]
    public async Task A_bfloat16_push_carries_half_the_bytes_and_its_rounding_is_timed_apart()
    {
        var step = Step(wire: TensorEncoding.BFloat16);

        await step.RunAsync(0, await PullAsync(0), CancellationToken.None, CancellationToken.None);

        var p = Assert.Single(_report.StepPhases);
        Assert.Equal(Parameters * sizeof(ushort), _report.BytesPushed);
        Assert.True(p.CompressSeconds > 0 && p.EncodeSeconds >= p.CompressSeconds, p.ToString());
        Assert.Equal(p.CompressSeconds, _report.CompressSeconds, 1e-6);   // the report keeps whole 100 ns ticks
        AssertWithinWall(p);
    }

    [Fact]
    public async Task A_top_k_push_sends_each_shard_its_k_largest_values_and_times_the_selection()
    {
        var step = Step(compression: new CompressionSettings { Push = CompressionKind.TopK, TopKRatio = 0.2 });

        await step.RunAsync(0, await PullAsync(0), CancellationToken.None, CancellationToken.None);

        // Shards of 11 and 10 values: ⌈2.2⌉ + ⌈2⌉ = 5 values, each a sparse entry.
        int entry = GpuPs.Protocol.TensorCodec.EncodedBytes(TensorEncoding.Sparse, [1f]);
        Assert.Equal(5 * entry, _report.BytesPushed);
        Assert.True(_report.CompressSeconds > 0);
        Assert.True(_report.StepPhases[0].CompressSeconds > 0);
    }

    [Fact]
    public async Task A_fused_push_s_phase_ends_with_its_answer_and_the_next_step_s_pull_begins_there()
    {
        foreach (var f in _cluster.Fakes) (f.Fuses, f.FusedPullDelay) = (true, TimeSpan.FromMilliseconds(50));
        var step = Step();
        Assert.True(step.CanFuse);
        var fused = new FusedPull(sameStep: true);
        var current = await PullAsync(0);
        var next = new float[Parameters];

        // Only step 0's fused pull waits (50 ms after its push was answered): that wait is step 1's pull phase, inside
        // step 1's wall time. Were step 0 to end when the pull came instead of at the answer, step 1's phases would
        // exceed its wall time by the wait.
        for (long s = 0; s < 2; s++)
        {
            if (s == 1) foreach (var f in _cluster.Fakes) f.FusedPullDelay = TimeSpan.Zero;
            double pulledIn = fused.PullSeconds;   // the last fused pull's wait (0 before the first), read before aiming again
            fused.Aim(s + 1, next);
            await step.RunAsync(s, current, CancellationToken.None, CancellationToken.None, pulledIn, fused);
            Assert.Equal(new PulledParameters(s + 1, false), fused.Pulled);
            Assert.True(fused.PushAnsweredAt > 0);
            if (s == 0) Assert.True(fused.PullSeconds >= 0.04, $"the fused pull's wait after the answer: {fused.PullSeconds}");
            else Assert.True(_report.StepPhases[1].PullSeconds >= 0.04, "step 1's pull phase is step 0's fused pull wait");
            Assert.Equal(fused.PushSeconds, _report.StepPhases[^1].PushSeconds);
            Assert.Equal(fused.PushSeconds, _report.PushLatencies[^1]);
            Assert.Equal(fused.PushSeconds, step.LastPushSeconds);
            (current, next) = (next, current);
        }

        Assert.Equal(_cluster.Parameters(), current);
        Assert.All(_report.StepPhases, AssertWithinWall);
        Assert.All(_cluster.Fakes, f => Assert.Equal(1 + 2, f.Pulls));
        fused.Aim(9, next);
        Assert.Equal((0L, 0.0, 0.0, (PulledParameters?)null), (fused.PushAnsweredAt, fused.PushSeconds, fused.PullSeconds, fused.Pulled));
    }

    [Fact]
    public async Task A_fused_pull_the_staleness_bound_holds_is_in_neither_the_push_latency_nor_the_time_the_coordinator_gets()
    {
        // SSP, s = 0, round-robin: worker 0's fused push is applied at once, and its pull then waits for worker 1's step 0.
        await using var ssp = new StepComputationTests(SyncMode.Ssp, workers: 2);
        await using var slowest = ssp._cluster.Client();
        await slowest.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        var step = ssp.Step(pacer: new PushPacer(ssp._client, ssp._report, Log.Logger));
        foreach (var f in ssp._cluster.Fakes) f.Fuses = true;
        var fused = new FusedPull(sameStep: false);
        var next = new float[Parameters];
        fused.Aim(1, next);

        var run = step.RunAsync(0, await ssp.PullAsync(0), CancellationToken.None, CancellationToken.None, fused: fused);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            while (ssp._cluster.Fakes.Any(f => f.Pulls < 2)) await Task.Delay(5, guard.Token);   // every shard holds the pull part
        Assert.False(run.IsCompleted);
        Assert.Equal(1, ssp._cluster.Status().PushesApplied);
        long released = Stopwatch.GetTimestamp();
        Assert.True((await slowest.PushAsync(new PushHeader(slowest.WorkerId, 0, 0, 1, 0), new float[Parameters], CancellationToken.None)).All(o => o.IsApplied));
        Assert.False(await run.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.NotNull(fused.Pulled);
        Assert.True(fused.PushAnsweredAt < released, "the push's answer is dated when it was applied, before the held step was released");
        Assert.Equal(fused.PushSeconds, Assert.Single(ssp._report.PushLatencies));
        var report = await NextReportAsync(ssp._cluster.Fakes[0]);
        Assert.Equal(fused.PushSeconds, report.PushSeconds);   // not the whole call, pull wait included
    }

    /// <summary>The first step report <paramref name="coordinator"/> got (a hang guard, not a timing assertion).</summary>
    private static async Task<HeartbeatRequest> NextReportAsync(InProcessShard coordinator)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (coordinator.HeartbeatRequests.IsEmpty) await Task.Delay(5, guard.Token);
        return coordinator.HeartbeatRequests.First();
    }

    [Fact]
    public async Task A_step_fuses_only_with_one_push_per_step_no_slots_and_full_pulls()
    {
        foreach (var f in _cluster.Fakes) f.Fuses = true;
        Assert.True(Step().CanFuse);
        Assert.False(Step(pacer: new PushPacer(_client, _report, Log.Logger)).CanFuse);
        Assert.False(Step(compression: new CompressionSettings { Pull = CompressionKind.TopK, TopKRatio = 0.1 }).CanFuse);
        Assert.True(Step(compression: new CompressionSettings { Push = CompressionKind.TopK, TopKRatio = 0.1 }).CanFuse);
        _cluster.Fakes[1].Fuses = false;
        Assert.False(Step().CanFuse);

        // A fused pull handed to a step that cannot fuse is not sent: the step pushes alone.
        var fused = new FusedPull(sameStep: true);
        fused.Aim(1, new float[Parameters]);
        await Step().RunAsync(0, await PullAsync(0), CancellationToken.None, CancellationToken.None, 0, fused);
        Assert.Null(fused.Pulled);
        Assert.Equal(0, fused.PushAnsweredAt);
        Assert.All(_report.StepPhases, AssertWithinWall);
    }

    [Fact]
    public void Only_a_step_sum_policy_can_be_replanned()
    {
        var step = Step();
        var policy = _cluster.Job.Mode.CreatePushPolicy(_plan, 0);
        step.Replan(_plan, policy);
        Assert.Same(_plan, step.Plan);

        var multi = SyncModes.Of(SyncMode.MultiMessage).CreatePushPolicy(_plan, 0);
        var e = Assert.Throws<ArgumentException>(() => step.Replan(_plan, multi));
        Assert.StartsWith("only a step-sum push policy can be replanned", e.Message);
    }

    [Fact]
    public async Task The_first_step_begins_with_its_pull_and_each_later_one_where_the_last_one_s_push_was_answered()
    {
        var step = Step();
        var all = Stopwatch.StartNew();
        await step.RunAsync(0, await PullAsync(0), CancellationToken.None, CancellationToken.None, pullSeconds: 0.25);
        double first = all.Elapsed.TotalSeconds;
        var between = Stopwatch.StartNew();   // from after step 0's push was answered to before step 1 begins
        var parameters = await PullAsync(1);
        await Task.Delay(300);
        double gap = between.Elapsed.TotalSeconds;

        await step.RunAsync(1, parameters, CancellationToken.None, CancellationToken.None);

        // Bounds by the test's own clock around the calls, not speed: step 0 spans its 0.25 s pull and its own call;
        // step 1 spans everything after step 0's answer, the gap the worker spent elsewhere included.
        Assert.InRange(_report.StepPhases[0].WallSeconds, 0.25, 0.25 + first);
        Assert.InRange(_report.StepPhases[1].WallSeconds, gap, all.Elapsed.TotalSeconds);
    }

    [Fact]
    public async Task A_zero_share_step_computes_and_pushes_nothing_and_does_not_end_the_job()
    {
        var plan = new PartitionPlan(_cluster.Data().Train, new Core.Coding.UncodedAssignment([0.0, 1.0]), 0, _cluster.Job.BatchSize);
        var hook = new Hook();
        var step = new StepComputation(plan, _kernel, _cluster.Job.Mode.CreatePushPolicy(plan, 0), hook, _client, _report, Log.Logger);
        Assert.Empty(plan.Held);

        Assert.False(await step.RunAsync(2, await PullAsync(0), CancellationToken.None, CancellationToken.None));

        Assert.Equal(2, step.Current);
        Assert.Equal((0, 0, 0), (hook.Began, _kernel.Added, _kernel.Reads));
        Assert.Equal(0, _report.Steps);
        Assert.All(_cluster.Fakes, f => Assert.Equal(0, f.Pushes));
    }

    [Fact]
    public async Task An_abandoned_round_robin_step_is_still_reported_to_the_coordinator()
    {
        var step = Step(pacer: new PushPacer(_client, _report, Log.Logger));
        using var closed = new CancellationTokenSource();
        closed.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => step.RunAsync(1, new float[Parameters], closed.Token, CancellationToken.None));

        var report = await NextReportAsync(_cluster.Fakes[0]);
        Assert.Equal((0, 1L, 0.0), (report.WorkerId, report.Step, report.PushSeconds));   // as far as it got: no push
        Assert.All(_cluster.Fakes, f => Assert.Equal(0, f.Pushes));
    }

    [Fact]
    public async Task An_abandoned_multi_message_step_ends_only_once_the_messages_it_sent_were_answered()
    {
        await using var multi = new StepComputationTests(SyncMode.MultiMessage, workers: 3, stragglers: 1);
        var step = multi.Step(new AbandonAt(partition: 2));
        var parameters = await multi.PullAsync(0);
        multi._cluster.Fakes[0].HoldPushes();

        var run = step.RunAsync(0, parameters, CancellationToken.None, CancellationToken.None);

        Assert.False(run.IsCompleted);   // the first partition's message is still held on shard 0: its buffer is in use
        multi._cluster.Fakes[0].ReleasePushes();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.All(multi._cluster.Fakes, f => Assert.Equal(1, f.Pushes));
        Assert.Equal(0, multi._report.Steps);
    }

    [Fact]
    public async Task A_multi_message_worker_s_last_step_ends_the_job_when_one_of_its_messages_finishes_it()
    {
        await using var multi = new StepComputationTests(SyncMode.MultiMessage, workers: 2, stragglers: 1);
        var step = multi.Step();
        Assert.True(multi._plan.Held.Count > 1);

        var finished = new List<bool>();
        for (long s = 0; s < multi._cluster.Job.Steps; s++)
            finished.Add(await step.RunAsync(s, await multi.PullAsync(s), CancellationToken.None, CancellationToken.None));

        Assert.Equal([false, false, true], finished);
    }

    [Fact]
    public async Task A_round_robin_push_s_wait_for_its_turns_is_reported_apart_from_its_latency()
    {
        await using var rr = new StepComputationTests(SyncMode.Bsp, schedule: PushSchedule.RoundRobin);
        rr._cluster.Fakes[0].TurnDelay = TimeSpan.FromMilliseconds(300);   // shard 0's turn comes after 300 ms
        var step = rr.Step(pacer: new PushPacer(rr._client, rr._report, Log.Logger));
        var parameters = await rr.PullAsync(0);

        var watch = Stopwatch.StartNew();
        await step.RunAsync(0, parameters, CancellationToken.None, CancellationToken.None);
        double call = watch.Elapsed.TotalSeconds;

        double latency = Assert.Single(rr._report.PushLatencies), waited = rr._report.SlotWaitSeconds;
        Assert.True(waited >= 0.15, $"turn wait {waited}");   // half the script: Task.Delay may end a little early
        Assert.InRange(latency + waited, 0, call);             // the push's time is split, not counted twice
        Assert.Equal(latency, step.LastPushSeconds);
        Assert.Equal(latency, (await NextReportAsync(rr._cluster.Fakes[0])).PushSeconds);
    }

    [Fact]
    public async Task A_multi_message_step_pushes_each_partition_as_its_own_message()
    {
        await using var multi = new StepComputationTests(SyncMode.MultiMessage, workers: 3, stragglers: 1);
        var step = multi.Step();
        Assert.False(step.CanFuse);
        Assert.True(multi._plan.Held.Count > 1);

        await step.RunAsync(0, await multi.PullAsync(0), CancellationToken.None, CancellationToken.None);

        Assert.All(multi._cluster.Fakes, f => Assert.Equal(multi._plan.Held.Count, f.Pushes));
        Assert.Equal(multi._plan.Held.Count, multi._report.PushLatencies.Count);
        Assert.Equal(multi._plan.Held.Count * Parameters * sizeof(float), multi._report.BytesPushed);
        Assert.Equal(multi._plan.Held.Count, multi._kernel.Reads);
        Assert.Single(multi._report.StepPhases);
        Assert.Throws<ArgumentException>(() => step.Replan(multi._plan, multi._cluster.Job.Mode.CreatePushPolicy(multi._plan, 0)));
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        _kernel.Dispose();
        _cluster.Dispose();
    }

    /// <summary>A step hook that counts its calls, can wait after each partition and can ask for repeated compute.</summary>
    private sealed class Hook(TimeSpan delay = default, int runs = 1) : IWorkerStepHook
    {
        public int Began, Ended, Partitions;
        public int ComputeRuns => runs;
        public void BeginStep(long step, int load) => Began++;
        public async Task AfterPartitionAsync(CancellationToken cancellationToken)
        {
            Partitions++;
            if (delay > TimeSpan.Zero) await Task.Delay(delay, cancellationToken);
        }
        public void EndStep(TimeSpan compute) => Ended++;
    }

    /// <summary>A step hook under which the step closes without this worker after <paramref name="partition"/> - 1 partitions.</summary>
    private sealed class AbandonAt(int partition) : IWorkerStepHook
    {
        private int _partitions;
        public int ComputeRuns => 1;
        public void BeginStep(long step, int load) { }
        public Task AfterPartitionAsync(CancellationToken cancellationToken) =>
            ++_partitions == partition ? Task.FromCanceled(new CancellationToken(canceled: true)) : Task.CompletedTask;
        public void EndStep(TimeSpan compute) { }
    }

    /// <summary>The SIMD kernel, counting the batches it computed for the gradient, those it discarded and the reads.</summary>
    private sealed class CountingKernel(IGradientKernel inner) : IGradientKernel
    {
        public int Added, Discarded, Reads;
        public ModelShape Shape => inner.Shape;
        public int Rows => inner.Rows;
        public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels) => inner.SetData(features, labels);
        public void LoadParameters(ReadOnlySpan<float> parameters) => inner.LoadParameters(parameters);
        public double AddGradient(int start, int count, float scale = 1f) { Added++; return inner.AddGradient(start, count, scale); }
        public double ComputeAndDiscardGradient(int start, int count) { Discarded++; return inner.ComputeAndDiscardGradient(start, count); }
        public void ReadGradient(Span<float> gradient) { Reads++; inner.ReadGradient(gradient); }
        public EvaluationResult Evaluate(int start, int count) => inner.Evaluate(start, count);
        public bool ComputesBlocks => inner.ComputesBlocks;
        public BlockRows AddBlockRows(int start, int count) => inner.AddBlockRows(start, count);
        public void ReadGradientBlock(int keyStart, Span<float> destination, float scale) => inner.ReadGradientBlock(keyStart, destination, scale);
        public void Dispose() => inner.Dispose();
    }
}
