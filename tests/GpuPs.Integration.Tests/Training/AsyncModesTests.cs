using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>ASP and SSP end to end over loopback gRPC with real workers.</summary>
public class AsyncModesTests
{
    private static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=800,features=20,classes=2,separation=3",
        Model = Kernels.ModelKind.Logistic,
        Workers = 4,
        Servers = 2,
        Steps = 25,
        BatchSize = 16,
        LearningRate = 0.1f,
        Accelerator = AcceleratorChoice.Simd,
    };

    [Fact]
    public async Task Asp_applies_every_push_of_every_worker_once_on_every_shard()
    {
        var result = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Asp }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        Assert.Equal(Settings.Workers * Settings.Steps * Settings.Servers, result.PushesApplied);
        Assert.Equal(0, result.PushesRejected);
        Assert.True(result.TestAccuracy > 0.8, $"test accuracy {result.TestAccuracy}");
    }

    [Fact]
    public async Task Ssp_never_lets_a_worker_run_more_than_staleness_steps_ahead()
    {
        // One worker 10x slower: the others run ahead until the bound holds them.
        var result = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Ssp, Staleness = 2, StragglerModel = "persistent:count=1,factor=10,unit=0.005" },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        Assert.Equal(Settings.Workers * Settings.Steps * Settings.Servers, result.PushesApplied);
        Assert.Equal(2, result.MaxStalenessSeen);
    }
}
