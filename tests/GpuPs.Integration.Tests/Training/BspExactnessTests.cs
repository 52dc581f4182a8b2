using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// BSP over real loopback gRPC computes exactly full-batch gradient descent: the servers' model after T steps equals
/// T full-batch steps of the float64 scalar reference, whatever the number of shards, workers or processes. The 603 rows
/// leave a training set that 4 workers split unequally (checked), so a mean of per-worker means would differ.
/// </summary>
public class BspExactnessTests
{
    internal static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=603,features=12,classes=3",
        Model = Kernels.ModelKind.Softmax,
        Workers = 4,
        Servers = 2,
        Mode = SyncMode.Bsp,
        Steps = 3,
        BatchSize = 0,
        Optimizer = OptimizerKind.Sgd,
        LearningRate = 0.5f,
        Seed = 11,
        Accelerator = AcceleratorChoice.Cpu,
    };

    [Fact]
    public async Task Four_workers_on_two_shards_compute_the_full_batch_gradient_step()
    {
        Assert.NotEqual(0, FullBatchReference.TrainRows(Settings) % Settings.Workers);
        var result = await TrainingRun.RunAsync(Settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        FullBatchReference.AssertClose(FullBatchReference.Descend(Settings), result.Parameters, 1e-5);
    }

    [Fact]
    public async Task Worker_and_server_processes_match_the_in_process_run()
    {
        var inProcess = await TrainingRun.RunAsync(Settings with { Accelerator = AcceleratorChoice.Simd }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var processes = await TrainingRun.RunAsync(Settings with { Accelerator = AcceleratorChoice.Simd, Processes = true }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        Assert.Equal(inProcess.Steps, processes.Steps);
        FullBatchReference.AssertClose(inProcess.Parameters.Select(v => (double)v).ToArray(), processes.Parameters, 1e-6);
        Assert.Equal(inProcess.TestAccuracy, processes.TestAccuracy, 3);
    }
}
