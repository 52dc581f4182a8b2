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
/// follows BSP step for step — even when a worker process is killed mid-run, which the coded servers do not wait for.
/// </summary>
public class CodedTrainingTests
{
    private static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=600,features=16,classes=3,separation=2",
        Model = Kernels.ModelKind.Softmax,
        Workers = 4,
        Stragglers = 1,
        Code = "cyclic",
        Steps = 30,
        BatchSize = 0,
        LearningRate = 0.5f,
        Seed = 5,
        Accelerator = AcceleratorChoice.Simd,
        HeartbeatTimeoutMs = 2_000,
    };

    [Fact]
    public async Task Coded_training_with_a_killed_worker_process_finishes_and_matches_bsp()
    {
        var bsp = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Bsp, Stragglers = 0 }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        // 50 ms of simulated compute per partition keeps the run long enough to kill a worker in the middle of it.
        var coded = Settings with { Mode = SyncMode.Coded, Processes = true, StragglerModel = "none:unit=0.05" };
        var (job, _) = JobFactory.CreateJob(coded);
        await using var cluster = await EmbeddedCluster.StartAsync(coded, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0]);
        StatusReply status;
        do
        {
            await Task.Delay(50);
            status = await observer.StatusAsync(CancellationToken.None);
        } while (status.Step < 5);
        cluster.KillWorker(2);
        await workers.WaitAsync(TimeSpan.FromMinutes(2));

        status = await observer.StatusAsync(CancellationToken.None);
        Assert.True(status.Finished);
        Assert.Equal(Settings.Steps, status.Step);
        // Step 0 includes the worker processes' start-up; after it, no step waits for the dead worker's heartbeat timeout.
        double slowest = status.StepSeconds.Skip(1).Max();
        Assert.True(slowest < Settings.HeartbeatTimeoutMs / 1000.0, $"a step took {slowest:F2} s: the servers waited for the dead worker");
        var parameters = new float[ShardLayout.Compute(job.ParameterCount, 1)[0].Length];
        await observer.PullAsync(-1, 0, parameters, CancellationToken.None);
        for (int i = 0; i < parameters.Length; i++)
            Assert.True(Math.Abs(parameters[i] - bsp.Parameters[i]) <= 1e-4 + 1e-4 * Math.Abs(bsp.Parameters[i]),
                $"parameter {i}: coded {parameters[i]}, BSP {bsp.Parameters[i]}");
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
