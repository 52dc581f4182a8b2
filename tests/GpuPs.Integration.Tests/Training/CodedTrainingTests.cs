using GpuPs.Core.Modes;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Coded training end to end: with full-partition batches the decoded gradient is the full-batch gradient, so a coded run
/// follows full-batch descent (the float64 scalar reference) step for step — with codes whose coefficients and decode
/// weights are real numbers, not 0/1 (cyclic-MDS for n + s odd, the random construction for n + s even), on partitions
/// of unequal size, and when a worker process is killed mid-run, which the coded servers do not wait for.
/// </summary>
public class CodedTrainingTests
{
    internal static readonly TrainSettings Settings = new()
    {
        // 603 rows: a training set that neither 5 nor 6 workers split evenly (checked in each test).
        Dataset = "synthetic:rows=603,features=16,classes=3,separation=2",
        Model = Kernels.ModelKind.Softmax,
        Workers = 4,
        Stragglers = 1,
        Code = "cyclic",
        Steps = 30,
        BatchSize = 0,
        LearningRate = 0.5f,
        Seed = 5,
        Accelerator = AcceleratorChoice.Simd,
        // The default 10 s heartbeat timeout: every shard and worker of these settings lives to the end, and a silence of
        // the heartbeat timeout ends a run (the worker gives the shard up) or drops a live worker's partition (the shard
        // evicts it). Runs here are in one loaded process, whose heartbeats have gone unanswered for 1.59 s in a CI run.
    };

    /// <summary>
    /// Float32 decoding of a code with real weights: parameters after 10 steps stay within 1e-5 of the float64 reference
    /// (measured here: at most 5e-8 relative for both codes and for BSP, so 1e-5 leaves 200× of margin).
    /// </summary>
    [Theory]
    [InlineData(5, 2)]
    [InlineData(6, 2)]
    public async Task Coded_training_with_real_coefficients_on_unequal_partitions_matches_full_batch_descent(int workers, int stragglers)
    {
        var coded = Settings with { Mode = SyncMode.Coded, Workers = workers, Stragglers = stragglers, Steps = 10 };
        Assert.NotEqual(0, FullBatchReference.TrainRows(coded) % workers);
        var job = JobFactory.CreateJob(coded);
        var code = job.Mode.Assignment(job);
        Assert.Contains(Enumerable.Range(0, workers), i => code.PartitionsOf(i).Any(j => Math.Abs(code[i, j]) is not (0 or 1)));

        var result = await TrainingRun.RunAsync(coded, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(coded.Steps, result.Steps);
        FullBatchReference.AssertClose(FullBatchReference.Descend(coded), result.Parameters, 1e-5);
    }

    [Fact]
    public async Task Coded_training_with_a_killed_worker_process_finishes_without_waiting_for_it_and_matches_full_batch_descent()
    {
        // A heartbeat timeout longer than the test: the dead worker is never evicted, so every step that closed after the
        // kill closed without it because the live responders decoded — not because the shard gave up on it.
        var coded = Settings with
        {
            Mode = SyncMode.Coded, Workers = 5, Stragglers = 2, Steps = 20, Processes = true, HeartbeatTimeoutMs = 600_000,
            // 50 ms of simulated compute per partition keeps the run long enough to kill a worker in the middle of it.
            StragglerModel = "none:unit=0.05",
        };
        const int killed = 2;
        var job = JobFactory.CreateJob(coded);
        await using var cluster = await EmbeddedCluster.StartAsync(coded, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        StatusReply status;
        do
        {
            await Task.Delay(50);
            status = await observer.StatusAsync(CancellationToken.None);
        } while (status.Step < 5);
        cluster.KillWorker(killed);
        await workers.WaitAsync(TimeSpan.FromMinutes(5));

        status = await observer.StatusAsync(CancellationToken.None);
        Assert.True(status.Finished);
        Assert.Equal(coded.Steps, status.Step);
        Assert.Equal(coded.Workers, status.LiveWorkers);
        // The dead worker's clock stopped at the kill: the steps after it closed without its push.
        Assert.True(status.WorkerSteps[killed] < coded.Steps - 5, $"worker {killed} pushed {status.WorkerSteps[killed]} of {coded.Steps} steps");
        var parameters = new float[ShardLayout.Compute(job.ParameterCount, 1)[0].Length];
        await observer.PullAsync(-1, 0, parameters, CancellationToken.None);
        FullBatchReference.AssertClose(FullBatchReference.Descend(coded), parameters, 1e-5);
    }

    [Fact]
    public async Task Multi_message_training_with_a_persistent_straggler_matches_bsp()
    {
        var bsp = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Bsp, Stragglers = 0, Steps = 8 }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var multi = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.MultiMessage, Steps = 8, StragglerModel = "persistent:count=1,factor=20,unit=0.01" },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        Assert.Equal(bsp.Steps, multi.Steps);
        for (int i = 0; i < bsp.Parameters.Count; i++)
            Assert.True(Math.Abs(multi.Parameters[i] - bsp.Parameters[i]) <= 1e-5 + 1e-5 * Math.Abs(bsp.Parameters[i]),
                $"parameter {i}: multi-message {multi.Parameters[i]}, BSP {bsp.Parameters[i]}");
    }

    [Fact]
    public async Task Ignoring_stragglers_does_not_follow_bsp()
    {
        var bsp = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Bsp, Stragglers = 0, Steps = 5 }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var backup = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Backup, Steps = 5, StragglerModel = "persistent:count=1,factor=20,unit=0.01" },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        double difference = bsp.Parameters.Zip(backup.Parameters, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(difference > 1e-3, $"backup workers dropped the straggler's partition yet matched BSP (max difference {difference:G3})");
    }
}
