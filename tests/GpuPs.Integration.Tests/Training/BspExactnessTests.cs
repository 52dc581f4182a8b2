using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// BSP over real loopback gRPC computes exactly full-batch gradient descent: the servers' model after T steps equals
/// T full-batch steps computed in this process, whatever the number of shards, workers or processes.
/// </summary>
public class BspExactnessTests
{
    private static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=600,features=12,classes=3",
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
        var result = await TrainingRun.RunAsync(Settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        AssertClose(FullBatchDescent(Settings), result.Parameters);
    }

    [Fact]
    public async Task Worker_and_server_processes_match_the_in_process_run()
    {
        var inProcess = await TrainingRun.RunAsync(Settings with { Accelerator = AcceleratorChoice.Simd }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var processes = await TrainingRun.RunAsync(Settings with { Accelerator = AcceleratorChoice.Simd, Processes = true }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        Assert.Equal(inProcess.Steps, processes.Steps);
        AssertClose(inProcess.Parameters.ToArray(), processes.Parameters);
        Assert.Equal(inProcess.TestAccuracy, processes.TestAccuracy, 3);
    }

    /// <summary>T steps of p ← p − lr · (Σ_rows ∇loss) / rows on the whole training set, in one process.</summary>
    private static float[] FullBatchDescent(TrainSettings s)
    {
        var data = PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed);
        var shape = new ModelShape(s.Model, data.FeatureCount, data.ClassCount);
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var kernel = backend.CreateGradientKernel(shape);
        kernel.SetData(data.Train.Features, data.Train.Labels);
        var p = ModelInitializer.Initialize(shape, s.Seed);
        var g = new float[p.Length];
        for (int t = 0; t < s.Steps; t++)
        {
            kernel.LossAndGradient(p, 0, data.Train.Rows, g);
            for (int i = 0; i < p.Length; i++) p[i] -= s.LearningRate * g[i] / data.Train.Rows;
        }
        return p;
    }

    private static void AssertClose(float[] expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"parameter {i}: expected {expected[i]}, got {actual[i]}");
    }
}
