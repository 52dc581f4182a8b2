using System.Collections.Concurrent;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Heterogeneity;
using GpuPs.Worker.Tests.Fakes;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker.Tests.Heterogeneity;

/// <summary>
/// A proportional worker's side of the assignment, one rule at a time: the coordinator (shard 0) answers from a script,
/// every other call reaches real shards in process. What the worker reports (its speed, exchange time and step shape,
/// measured from its own counters), when it switches to a new version and what that loads, how a worker at a zero share
/// waits out a step, and when it relays the assignment to the other shards.
/// </summary>
public class AssignmentFollowerTests
{
    private static TrainingJob Job(SyncMode mode, int workers, int stragglers = 0) => new()
    {
        Dataset = "synthetic:rows=603,features=6,classes=3",
        Model = new ModelShape(Kernels.ModelKind.Softmax, 6, 3),
        Mode = SyncModes.Of(mode), Workers = workers, Stragglers = stragglers, Code = "auto",
        Steps = 20, Seed = 5, HeartbeatTimeoutMs = 60_000, BatchSize = 0, Assignment = AssignmentPolicy.Proportional,
    };

    private static WorkAssignment Version(long version, double[] speeds, params int[] idle) => new(version, 0, speeds, 0) { Idle = idle };

    private static HeartbeatReply Reply(long step, WorkAssignment? assignment = null, bool finished = false) =>
        new() { Step = step, Finished = finished, Assignment = assignment is null ? null : AssignmentWire.ToWire(assignment) };

    [Fact]
    public async Task Joining_reports_the_probed_speed_once_then_polls_with_zero_until_the_first_assignment_whose_rows_it_loads()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 2), shards: 1, workerId: 1);
        int asked = 0;
        rig.Coordinator.Answer = _ => ++asked < 4 ? Reply(3) : Reply(3, Version(1, [1, 3]));

        var plan = await rig.Follower.JoinAsync(3, CancellationToken.None);

        var requests = rig.Coordinator.Requests.ToArray();
        Assert.Equal(4, requests.Length);
        Assert.All(requests, r => Assert.Equal((1, 3L), (r.WorkerId, r.Step)));
        Assert.True(requests[0].RowsPerSecond > 0, "the probe's speed is reported");
        Assert.All(requests.Skip(1), r => Assert.Equal(0, r.RowsPerSecond));   // the polls say "not measured"
        Assert.Equal(1, rig.Follower.Version);
        Assert.False(rig.Follower.Idle);
        // Worker 1 of speeds 1 : 3 holds the last three quarters of the rows, and they are what the kernel holds now.
        Assert.Equal([1], plan.Held);
        Assert.InRange(plan.Data.Rows, rig.Train.Rows * 3 / 4 - 1, rig.Train.Rows * 3 / 4 + 1);
        Assert.Equal(plan.Data.Features, rig.Kernel.LastFeatures);
    }

    [Fact]
    public async Task Each_report_carries_the_rows_per_second_of_kernel_time_the_exchange_time_per_step_and_the_step_s_shape()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 2), shards: 1, workerId: 0);
        var v1 = Version(1, [1, 1]);
        rig.Coordinator.Answer = r => Reply(r.Step, v1);
        var plan = await rig.Follower.JoinAsync(0, CancellationToken.None);
        var computation = rig.Computation(plan);
        var report = rig.Report;
        long rows = plan.Data.Rows;   // full batches: a step computes every row held

        // Step 0 was the first on the rows just loaded: no measure of speed, but its exchange time counts.
        (report.Steps, report.ComputeSeconds, report.PullSeconds, report.PushSeconds) = (1, 0.8, 0.3, 0.1);
        await rig.Follower.BeforeStepAsync(1, computation, CancellationToken.None);
        var first = rig.Coordinator.Requests.Last();
        Assert.Equal((1L, 0.0, 0L, 0L, 0.0), (first.Step, first.RowsPerSecond, first.ShareRows, first.StepRows, first.FixedSeconds));
        Assert.Equal(0.4, first.ExchangeSeconds, 9);

        // Two steps more: 0.5 s of kernel time, 0.8 s of exchange; the last step's time beside kernels and wait is
        // wall − pull − compute − delay + push (the push once more, for the pull's transfer).
        (report.Steps, report.ComputeSeconds, report.PullSeconds, report.PushSeconds) = (3, 1.3, 0.9, 0.3);
        report.RecordStep(new WorkerStepPhases(2, PullSeconds: 0.3, ComputeSeconds: 0.5, EncodeSeconds: 0, PushSeconds: 0.2,
            DelaySeconds: 0.1, WallSeconds: 2.0));
        await rig.Follower.BeforeStepAsync(3, computation, CancellationToken.None);
        var measured = rig.Coordinator.Requests.Last();
        Assert.Equal(rows * 2 / 0.5, measured.RowsPerSecond, 6);
        Assert.Equal(0.4, measured.ExchangeSeconds, 9);
        Assert.Equal((rows, plan.StepRows), (measured.ShareRows, measured.StepRows));
        Assert.Equal(rig.Train.Rows, plan.StepRows);
        Assert.Equal(2.0 - 0.3 - 0.5 - 0.1 + 0.2, measured.FixedSeconds, 9);

        // No step since: nothing measured. Then a step whose kernel time did not move, and one whose phases leave
        // nothing beside them (never a negative time).
        await rig.Follower.BeforeStepAsync(3, computation, CancellationToken.None);
        var idle = rig.Coordinator.Requests.Last();
        Assert.Equal((0.0, 0.0, 0L), (idle.RowsPerSecond, idle.ExchangeSeconds, idle.ShareRows));
        (report.Steps, report.PullSeconds) = (4, 1.5);
        await rig.Follower.BeforeStepAsync(4, computation, CancellationToken.None);
        var noCompute = rig.Coordinator.Requests.Last();
        Assert.Equal((0.0, 0L), (noCompute.RowsPerSecond, noCompute.ShareRows));
        Assert.Equal(0.6, noCompute.ExchangeSeconds, 9);
        (report.Steps, report.ComputeSeconds) = (5, 1.5);
        report.RecordStep(new WorkerStepPhases(4, PullSeconds: 0.4, ComputeSeconds: 0.2, EncodeSeconds: 0, PushSeconds: 0.1, WallSeconds: 0.5));
        await rig.Follower.BeforeStepAsync(5, computation, CancellationToken.None);
        var tight = rig.Coordinator.Requests.Last();
        Assert.Equal(rows / 0.2, tight.RowsPerSecond, 6);
        Assert.Equal(0, tight.FixedSeconds);
        Assert.Equal(1, rig.Follower.Version);
        Assert.Equal(0, report.Rebalances);   // the same version every time: no switch
    }

    [Theory]
    // Worker 1 of three: a middle third, then a wider middle that contains it (only the new rows are loaded).
    [InlineData(new[] { 1.0, 1, 1 }, new[] { 1.0, 4, 1 }, "superset")]
    // A middle third, then the rows between 80 % and 90 %: none of them held before.
    [InlineData(new[] { 1.0, 1, 1 }, new[] { 8.0, 1, 1 }, "disjoint")]
    // A wide middle, then a third of it: nothing to load.
    [InlineData(new[] { 1.0, 4, 1 }, new[] { 1.0, 1, 1 }, "subset")]
    public async Task A_new_version_is_switched_to_before_the_step_loading_its_rows_and_counting_the_rows_gained(double[] from, double[] to, string kind)
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 3), shards: 1, workerId: 1);
        var current = Version(1, from);
        rig.Coordinator.Answer = r => Reply(r.Step, current);
        var before = await rig.Follower.JoinAsync(0, CancellationToken.None);
        var computation = rig.Computation(before);

        current = Version(2, to);
        await rig.Follower.BeforeStepAsync(4, computation, CancellationToken.None);

        var after = computation.Plan;
        Assert.NotSame(before, after);
        Assert.Equal(2, rig.Follower.Version);
        Assert.Equal(1, rig.Report.Rebalances);
        Assert.Equal(after.Data.Features, rig.Kernel.LastFeatures);
        long expected = kind switch
        {
            "superset" => after.Data.Rows - before.Data.Rows,
            "disjoint" => after.Data.Rows,
            _ => 0,
        };
        Assert.True(expected > 0 || kind == "subset");
        Assert.Equal(expected, rig.Report.RowsLoaded);

        // The same version again switches nothing; the first step on the new rows is no measure of speed.
        rig.Report.Steps = 1;
        rig.Report.ComputeSeconds = 0.5;
        await rig.Follower.BeforeStepAsync(5, computation, CancellationToken.None);
        Assert.Equal(1, rig.Report.Rebalances);
        Assert.Same(after, computation.Plan);
        Assert.Equal(0, rig.Coordinator.Requests.Last().RowsPerSecond);
    }

    [Fact]
    public async Task A_worker_at_a_zero_share_loads_nothing_and_polls_with_zero_speed_until_the_step_closed_without_it()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 3), shards: 1, workerId: 1);
        var current = Version(1, [1, 1, 1]);
        int polls = 0;
        rig.Coordinator.Answer = r => Reply(r.RowsPerSecond == 0 && rig.Follower.Idle && ++polls >= 3 ? 6 : 5, current);
        var computation = rig.Computation(await rig.Follower.JoinAsync(0, CancellationToken.None));
        int loads = rig.Kernel.Loads;

        current = Version(2, [1, 1, 1], 1);
        await rig.Follower.BeforeStepAsync(5, computation, CancellationToken.None);

        Assert.True(rig.Follower.Idle);
        Assert.Equal(0, computation.Plan.Data.Rows);
        Assert.Equal(loads, rig.Kernel.Loads);   // a zero share puts nothing on the device
        var requests = rig.Coordinator.Requests.ToArray()[^4..];   // the step's report and three polls, the last answered at step 6
        Assert.All(requests, r => Assert.Equal(5, r.Step));
        Assert.All(requests.Skip(1), r => Assert.Equal((0.0, 0.0), (r.RowsPerSecond, r.ExchangeSeconds)));
        Assert.Equal(3, polls);
        Assert.Equal(1 + 1 + 3, rig.Coordinator.Requests.Count);   // the join, the step's report, the polls
    }

    [Fact]
    public async Task An_idle_worker_given_rows_for_the_very_step_computes_it_and_one_given_them_from_the_next_step_waits()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 3), shards: 1, workerId: 1);
        var current = Version(1, [1, 1, 1], 1);
        long shardStep = 2;
        rig.Coordinator.Answer = _ => Reply(shardStep, current);
        var computation = rig.Computation(await rig.Follower.JoinAsync(0, CancellationToken.None));
        Assert.True(rig.Follower.Idle);

        // Step 2: the workers that held rows died; version 2 gives worker 1 rows while step 2 is still open.
        int asked = rig.Coordinator.Requests.Count;
        rig.Coordinator.Answer = _ => rig.Coordinator.Requests.Count - asked >= 3 ? Reply(2, current = Version(2, [1, 1, 1])) : Reply(2, current);
        await rig.Follower.BeforeStepAsync(2, computation, CancellationToken.None);
        Assert.False(rig.Follower.Idle);
        Assert.Equal(2, rig.Follower.Version);
        Assert.True(computation.Plan.Data.Rows > 0);
        Assert.Equal(3, rig.Coordinator.Requests.Count - asked);

        // Idle again at step 3; version 4 is published as step 3 closes without this worker: it starts with step 4, so
        // the worker leaves step 3 on the version it had and takes version 4 before step 4.
        var (v3, v4) = (Version(3, [1, 1, 1], 1), Version(4, [1, 1, 1]));
        asked = rig.Coordinator.Requests.Count;
        rig.Coordinator.Answer = _ => rig.Coordinator.Requests.Count - asked == 1 ? Reply(3, v3) : Reply(4, v4);
        await WaitUntilReturnsAsync(rig.Follower.BeforeStepAsync(3, computation, CancellationToken.None));
        Assert.Equal(3, rig.Follower.Version);
        Assert.True(rig.Follower.Idle);
        await rig.Follower.BeforeStepAsync(4, computation, CancellationToken.None);
        Assert.Equal(4, rig.Follower.Version);
        Assert.False(rig.Follower.Idle);
    }

    [Fact]
    public async Task An_idle_worker_stops_waiting_when_the_job_finished()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 3), shards: 1, workerId: 1);
        int polls = 0;
        rig.Coordinator.Answer = r => Reply(7, Version(1, [1, 1, 1], 1), finished: rig.Follower.Idle && ++polls == 2);
        var computation = rig.Computation(await rig.Follower.JoinAsync(7, CancellationToken.None));

        await WaitUntilReturnsAsync(rig.Follower.BeforeStepAsync(7, computation, CancellationToken.None));

        Assert.Equal(2, polls);
    }

    [Fact]
    public async Task A_coded_job_on_two_shards_relays_every_step_s_version_to_the_other_shard_and_reports_every_partition_s_rows()
    {
        // The optimal heterogeneous code at equal speeds: every worker holds s + 1 = 2 partitions.
        await using var rig = await Rig.StartAsync(Job(SyncMode.Coded, 3, stragglers: 1) with { Code = "hetero-optimal" }, shards: 2, workerId: 0);
        var current = Version(1, [1, 1, 1]);
        rig.Coordinator.Answer = r => Reply(r.Step, current);
        var plan = await rig.Follower.JoinAsync(0, CancellationToken.None);
        var computation = rig.Computation(plan);

        await rig.Follower.BeforeStepAsync(0, computation, CancellationToken.None);
        (rig.Report.Steps, rig.Report.ComputeSeconds) = (1, 0.5);
        await rig.Follower.BeforeStepAsync(1, computation, CancellationToken.None);   // the first step on the rows: not measured
        (rig.Report.Steps, rig.Report.ComputeSeconds) = (2, 1.0);
        rig.Report.RecordStep(new WorkerStepPhases(1, PullSeconds: 0.1, ComputeSeconds: 0.5, EncodeSeconds: 0, PushSeconds: 0.1, WallSeconds: 0.8));
        current = Version(2, [3, 2, 1]);
        await rig.Follower.BeforeStepAsync(2, computation, CancellationToken.None);

        var relayed = rig.Other.HeartbeatRequests.Where(h => h.RelayedAssignment is not null).ToArray();
        Assert.Equal([(0L, 1L), (1L, 1L), (2L, 2L)], relayed.Select(h => (h.Step, h.RelayedAssignment.Version)));
        Assert.Equal([3.0, 2, 1], relayed[2].RelayedAssignment.Speeds);
        Assert.DoesNotContain(rig.Coordinator.Requests, r => r.RelayedAssignment is not null);   // the coordinator has it
        // A coded worker computes several partitions a step: its share is all of their rows.
        var measured = rig.Coordinator.Requests.Single(r => r.RowsPerSecond > 0 && r.Step == 2);
        Assert.True(plan.Held.Count > 1);
        Assert.Equal(plan.Data.Rows, measured.ShareRows);
        Assert.Equal(plan.Data.Rows / 0.5, measured.RowsPerSecond, 6);
    }

    [Fact]
    public async Task A_bsp_job_relays_nothing_until_a_version_with_zero_shares_then_every_step()
    {
        await using var rig = await Rig.StartAsync(Job(SyncMode.Bsp, 3), shards: 2, workerId: 0);
        var current = Version(1, [1, 1, 1]);
        rig.Coordinator.Answer = r => Reply(r.Step, current);
        var computation = rig.Computation(await rig.Follower.JoinAsync(0, CancellationToken.None));

        await rig.Follower.BeforeStepAsync(0, computation, CancellationToken.None);
        Assert.DoesNotContain(rig.Other.HeartbeatRequests, h => h.RelayedAssignment is not null);

        current = Version(2, [1, 1, 1], 2);   // worker 2 idle: the other shard must learn who it waits for
        await rig.Follower.BeforeStepAsync(1, computation, CancellationToken.None);
        current = Version(3, [1, 1, 1], 1);   // another version with a zero share
        await rig.Follower.BeforeStepAsync(2, computation, CancellationToken.None);
        current = Version(4, [1, 1, 1]);      // and, from then on, every version: also one that gives every worker rows again
        await rig.Follower.BeforeStepAsync(3, computation, CancellationToken.None);

        var relayed = rig.Other.HeartbeatRequests.Where(h => h.RelayedAssignment is not null).Select(h => (h.Step, h.RelayedAssignment.Version));
        Assert.Equal([(1L, 2L), (2L, 3L), (3L, 4L)], relayed);
    }

    private static async Task WaitUntilReturnsAsync(Task task) => await task.WaitAsync(TimeSpan.FromSeconds(20));

    /// <summary>Shard 0's control plane answered by the test (what the coordinator publishes); every request kept.</summary>
    private sealed class ScriptedCoordinator(InProcessShard shard) : IShardControl
    {
        public ConcurrentQueue<HeartbeatRequest> Requests { get; } = new();

        public Func<HeartbeatRequest, HeartbeatReply> Answer { get; set; } = r => new HeartbeatReply { Step = r.Step };

        public Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
            shard.RegisterAsync(request, cancellationToken, timeout);

        public Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
        {
            Requests.Enqueue(request.Clone());
            return Task.FromResult(Answer(request));
        }

        public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => shard.StatusAsync(cancellationToken, timeout);
    }

    /// <summary>The SIMD kernel, keeping the features of the last rows loaded onto it and counting the loads.</summary>
    private sealed class RecordingKernel(IGradientKernel inner) : IGradientKernel
    {
        public float[] LastFeatures = [];
        public int Loads;
        public ModelShape Shape => inner.Shape;
        public int Rows => inner.Rows;
        public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
        {
            (LastFeatures, Loads) = (features.ToArray(), Loads + 1);
            inner.SetData(features, labels);
        }
        public void LoadParameters(ReadOnlySpan<float> parameters) => inner.LoadParameters(parameters);
        public double AddGradient(int start, int count, float scale = 1f) => inner.AddGradient(start, count, scale);
        public double ComputeAndDiscardGradient(int start, int count) => inner.ComputeAndDiscardGradient(start, count);
        public void ReadGradient(Span<float> gradient) => inner.ReadGradient(gradient);
        public EvaluationResult Evaluate(int start, int count) => inner.Evaluate(start, count);
        public bool ComputesBlocks => inner.ComputesBlocks;
        public BlockRows AddBlockRows(int start, int count) => inner.AddBlockRows(start, count);
        public void ReadGradientBlock(int keyStart, Span<float> destination, float scale) => inner.ReadGradientBlock(keyStart, destination, scale);
        public void Dispose() => inner.Dispose();
    }

    /// <summary>A registered worker's client (shard 0's control scripted), its kernel, report and follower.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly InProcessCluster _cluster;
        private readonly ShardedParameterClient _client;
        private readonly TrainingJob _job;
        private readonly int _workerId;

        private Rig(InProcessCluster cluster, ShardedParameterClient client, ScriptedCoordinator coordinator, int workerId)
        {
            (_cluster, _client, Coordinator, _workerId, _job) = (cluster, client, coordinator, workerId, cluster.Job);
            Train = cluster.Data().Train;
            Kernel = new RecordingKernel(cluster.Backend.CreateGradientKernel(_job.Model));
            Report = new WorkerReport(workerId, "simd");
            Follower = new AssignmentFollower(_job, workerId, Train, Kernel, new OneRunHook(), client, Report, Log.Logger);
        }

        public ScriptedCoordinator Coordinator { get; }
        public Core.Data.Dataset Train { get; }
        public RecordingKernel Kernel { get; }
        public WorkerReport Report { get; }
        public AssignmentFollower Follower { get; }

        /// <summary>Shard 1's transport (real shard), where relayed assignments arrive.</summary>
        public InProcessShard Other => _cluster.Fakes[1];

        public static async Task<Rig> StartAsync(TrainingJob job, int shards, int workerId)
        {
            var cluster = new InProcessCluster(job, shards, learningRate: 0.5f);
            var coordinator = new ScriptedCoordinator(cluster.Fakes[0]);
            var connections = cluster.Fakes.Select((f, i) => i == 0 ? new ShardConnection("scripted coordinator", coordinator, f) : f.Connect()).ToArray();
            var client = new ShardedParameterClient(connections, new ShardedClientOptions(), Log.Logger);
            await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = workerId, ClientToken = Guid.NewGuid().ToString() }, CancellationToken.None);
            return new Rig(cluster, client, coordinator, workerId);
        }

        public StepComputation Computation(PartitionPlan plan) =>
            new(plan, Kernel, _job.Mode.CreatePushPolicy(plan, _workerId), new OneRunHook(), _client, Report, Log.Logger);

        public async ValueTask DisposeAsync()
        {
            await _client.DisposeAsync();
            Kernel.Dispose();
            _cluster.Dispose();
        }
    }
}
