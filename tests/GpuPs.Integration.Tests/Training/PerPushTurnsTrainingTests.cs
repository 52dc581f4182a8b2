using System.Collections.Concurrent;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Integration.Tests.DataPlane;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;
using GpuPs.Worker;
using GpuPs.Worker.Stragglers;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Round-robin turns with per-push updates (ASP, SSP: R2SP as the paper runs it) over real sockets on loopback: two
/// shards, gRPC for the turns, the framed TCP data plane for tensors, each push fused with the pull of the fresh
/// parameters. Each shard's own grant log never has more than the push concurrency in flight, SSP's bound holds at every
/// grant, every push is applied once, and each shard's final parameters are a float64 replay of the pushes it received,
/// in the order it applied them, from the job's initial values. A worker that stops pushing (hung, still heartbeating,
/// so never evicted) is passed over and the others finish.
/// </summary>
public class PerPushTurnsTrainingTests
{
    private static readonly TrainSettings Settings = TransportEquivalenceTests.Settings with
    {
        Workers = 4, Steps = 10, Schedule = "round-robin", Transport = TransportChoice.Tcp, HeartbeatTimeoutMs = 120_000,
    };

    [Theory]
    [InlineData(SyncMode.Asp, 1, 0)]
    [InlineData(SyncMode.Asp, 2, 0)]
    [InlineData(SyncMode.Ssp, 1, 1)]
    public async Task Turns_keep_at_most_the_concurrency_in_flight_hold_the_ssp_bound_and_apply_every_push_once_in_order(SyncMode mode, int concurrency, int staleness)
    {
        // SSP: one worker 4x slower, so the others run into the bound.
        var settings = Settings with
        {
            Mode = mode, PushConcurrency = concurrency, Staleness = staleness,
            StragglerModel = mode == SyncMode.Ssp ? "persistent:count=1,factor=4,unit=0.01" : "none",
        };
        var log = new CapturedLog();
        await using var cluster = await RecordedCluster.StartAsync(settings, log.Logger);
        await cluster.RunWorkersAsync(Enumerable.Range(0, settings.Workers), TimeSpan.FromSeconds(120));

        var grants = Grants(log);
        for (int shard = 0; shard < settings.Servers; shard++)
        {
            var mine = grants.Where(g => g.Shard == shard).ToList();
            Assert.All(mine, g => Assert.InRange(g.InFlight, 1, concurrency));
            Assert.InRange(cluster.Shards[shard].Status().PushTurnsPeak, 1, concurrency);
            // Every push took its turn (a retried request may be granted its held turn again).
            Assert.Equal(settings.Workers * settings.Steps, mine.Select(g => (g.Worker, g.Step)).Distinct().Count());
            if (mode == SyncMode.Ssp)
            {
                // At the grant of a worker's push of step s, every worker had been granted its push of s - staleness - 1.
                var granted = new long[settings.Workers];
                Array.Fill(granted, -1);
                foreach (var g in mine)
                {
                    Assert.True(granted.Min() >= g.Step - staleness - 1, $"worker {g.Worker}'s turn of step {g.Step} on shard {shard} while a worker had only pushed up to step {granted.Min()}");
                    granted[g.Worker] = Math.Max(granted[g.Worker], g.Step);
                }
            }
            cluster.AssertReplayed(shard, (int)(settings.Workers * settings.Steps));
        }
        Assert.True(cluster.Reports.Sum(r => r.SlotWaitSeconds) > 0, "no push waited for a turn");
        Assert.True(cluster.Reports.Sum(r => r.FusedPulls) > 0, "no push brought the fresh parameters back");
    }

    [Fact]
    public async Task A_worker_that_stops_pushing_is_passed_over_and_the_others_finish()
    {
        var settings = Settings with { Mode = SyncMode.Asp, Workers = 3 };
        var log = new CapturedLog();
        await using var cluster = await RecordedCluster.StartAsync(settings, log.Logger, hangAtStep: (Worker: 1, Step: 2));
        // Worker 1 hangs in its step 2 (it heartbeats on, so it is never evicted within the test); the others must not
        // wait for its turns, which a shard that never passed one would make them do until the heartbeat timeout.
        var hung = cluster.StartWorker(1);
        await cluster.RunWorkersAsync([0, 2], TimeSpan.FromSeconds(90));
        for (int shard = 0; shard < settings.Servers; shard++)
        {
            var status = cluster.Shards[shard].Status();
            Assert.True(status.PushTurnsPassed >= 1, $"shard {shard} passed no turn");
            Assert.Equal([settings.Steps, 2, settings.Steps], status.WorkerSteps);
            cluster.AssertReplayed(shard, (int)(2 * settings.Steps + 2));
        }
        await cluster.StopAsync(hung);
    }

    private static List<(int Shard, int Worker, long Step, int InFlight)> Grants(CapturedLog log) =>
    [
        .. log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Shard {Shard} push turn", StringComparison.Ordinal))
            .Select(e => ((int)CapturedLog.Property(e, "Shard")!, (int)CapturedLog.Property(e, "WorkerId")!, Convert.ToInt64(CapturedLog.Property(e, "Step")),
                (int)CapturedLog.Property(e, "InFlight")!)),
    ];

    /// <summary>
    /// Shards in this process behind real hosts (gRPC and the TCP data plane on loopback), each recording the pushes it
    /// applied, and in-process workers connected over the sockets.
    /// </summary>
    private sealed class RecordedCluster : IAsyncDisposable
    {
        private readonly TrainSettings _settings;
        private readonly TrainingJob _job;
        private readonly Serilog.ILogger _log;
        private readonly (int Worker, long Step)? _hang;
        private readonly List<IAsyncDisposable> _owned = [];
        private readonly ConcurrentBag<WorkerReport> _reports = [];
        private string[] _addresses = [];

        private RecordedCluster(TrainSettings settings, Serilog.ILogger log, (int, long)? hang) =>
            (_settings, _job, _log, _hang) = (settings, JobFactory.CreateJob(settings), log, hang);

        public List<RecordingShard> Shards { get; } = [];

        public IReadOnlyCollection<WorkerReport> Reports => _reports;

        public static async Task<RecordedCluster> StartAsync(TrainSettings settings, Serilog.ILogger log, (int Worker, long Step)? hangAtStep = null)
        {
            var cluster = new RecordedCluster(settings, log, hangAtStep);
            var addresses = new List<string>();
            for (int i = 0; i < settings.Servers; i++)
            {
                var backend = Accelerators.Create(AcceleratorChoice.Simd, log);
                var shard = new RecordingShard(ParameterShard.Create(cluster._job, JobFactory.Optimizer(settings), i, settings.Servers, backend, log), backend);
                cluster.Shards.Add(shard);
                cluster._owned.Add(shard);
                var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", JobAuth.Insecure, ServerLimits.Default, log, CancellationToken.None);
                cluster._owned.Add(host);
                addresses.Add(host.Address.ToString().TrimEnd('/'));
            }
            cluster._addresses = [.. addresses];
            return cluster;
        }

        /// <summary>Runs workers <paramref name="ids"/> to the end of their steps, within <paramref name="limit"/>.</summary>
        public async Task RunWorkersAsync(IEnumerable<int> ids, TimeSpan limit)
        {
            var runs = ids.Select(StartWorker).ToList();
            var all = Task.WhenAll(runs.Select(r => r.Run));
            Assert.Same(all, await Task.WhenAny(all, Task.Delay(limit)));
            await all;
        }

        public (Task Run, CancellationTokenSource Stop) StartWorker(int id)
        {
            var stop = new CancellationTokenSource();
            return (Task.Run(async () =>
            {
                using var backend = Accelerators.Create(AcceleratorChoice.Simd, _log);
                await using var worker = new TrainingWorker(new WorkerOptions(_addresses, id, TimeSpan.FromSeconds(60)), backend, _log,
                    WorkerConnections.Create(_addresses, JobAuth.Insecure, TransportChoice.Tcp, null, TimeSpan.FromSeconds(10), _log),
                    joined => _hang is { } h && h.Worker == id ? new HangingHook(h.Step) : new StragglerStepHook(
                        StragglerInjector.Parse(joined.Job.StragglerModel, joined.Job.Workers, joined.Job.Seed), joined.WorkerId));
                _reports.Add(await worker.RunAsync(stop.Token));
            }), stop);
        }

        public async Task StopAsync((Task Run, CancellationTokenSource Stop) worker)
        {
            await worker.Stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => worker.Run);
        }

        /// <summary>
        /// Shard <paramref name="shard"/>'s parameters are its initial values with the <paramref name="pushes"/> pushes it
        /// applied subtracted in its applied order, each as the learning rate times its mean gradient, in float64.
        /// </summary>
        public void AssertReplayed(int shard, int pushes)
        {
            var recorded = Shards[shard].Applied.OrderBy(p => p.Step).ToList();
            Assert.Equal(pushes, recorded.Count);
            Assert.Equal(Enumerable.Range(1, pushes).Select(s => (long)s), recorded.Select(p => p.Step));   // once each, none missing
            var info = Shards[shard].Info;
            var replay = JobBuilder.InitialParameters(_job, info).Select(v => (double)v).ToArray();
            foreach (var push in recorded)
                for (int i = 0; i < replay.Length; i++)
                    replay[i] -= _settings.LearningRate * (double)push.Gradient[i] / push.Samples;
            var actual = new float[info.Length];
            Shards[shard].CopyParameters(actual);
            FullBatchReference.AssertClose(replay, actual, 1e-5);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
        }
    }

    /// <summary>A worker's hook that hangs at <paramref name="step"/> until the worker is stopped.</summary>
    private sealed class HangingHook(long step) : IWorkerStepHook
    {
        private bool _hang;

        public int ComputeRuns => 1;

        public void BeginStep(long current, int load) => _hang = current == step;

        public Task AfterPartitionAsync(CancellationToken cancellationToken) => _hang ? Task.Delay(Timeout.Infinite, cancellationToken) : Task.CompletedTask;

        public void EndStep(TimeSpan compute) { }
    }

    /// <summary>A shard that records every push it applied (its step after the push: its place in the applied order).</summary>
    private sealed class RecordingShard(ParameterShard inner, IDisposable backend) : IParameterShard, IAsyncDisposable
    {
        public ConcurrentBag<(long Step, int Worker, long Samples, float[] Gradient)> Applied { get; } = [];

        public ShardInfo Info => inner.Info;
        public RegisterReply Register(RegisterRequest request) => inner.Register(request);
        public Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken) => inner.WaitForStepAsync(workerId, minStep, cancellationToken);
        public void PullSent(int workerId) => inner.PullSent(workerId);
        public PullResult CopyParameters(Span<float> destination) => inner.CopyParameters(destination);
        public PullResult CopyForPull(int workerId, long viewVersion, Span<float> destination) => inner.CopyForPull(workerId, viewVersion, destination);
        public PushOutcome Admit(in PushHeader header) => inner.Admit(header);
        public Task<PushTurnLease> WaitForSlotAsync(PushHeader header, CancellationToken cancellationToken) => inner.WaitForSlotAsync(header, cancellationToken);
        public Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken) => inner.AwaitPushTurnAsync(request, cancellationToken);
        public HeartbeatReply Heartbeat(HeartbeatRequest request) => inner.Heartbeat(request);
        public StatusReply Status() => inner.Status();

        public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
        {
            var copy = gradientSum.ToArray();
            var outcome = inner.Push(header, gradientSum);
            // Per-push updates: the outcome's step is the shard's after this push, so it orders the applied pushes.
            if (outcome.IsApplied) Applied.Add((outcome.Step, header.WorkerId, header.SampleCount, copy));
            return outcome;
        }

        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            backend.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
