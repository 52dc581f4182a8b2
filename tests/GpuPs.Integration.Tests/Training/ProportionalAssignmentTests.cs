using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// <c>--assignment proportional</c> over real loopback gRPC: the workers measure their speed (one of them throttled to a
/// quarter), the coordinator in shard 0 publishes the assignment in its heartbeat replies, the partitions are sized by
/// it, and the model is still exactly T full-batch steps, on two shards and in separate processes.
/// </summary>
public class ProportionalAssignmentTests
{
    /// <summary>The BSP exactness run with 3 workers, worker 0 throttled to a quarter, partitions by speed.</summary>
    internal static readonly TrainSettings Settings = BspExactnessTests.Settings with
    {
        Workers = 3, Steps = 4, Accelerator = AcceleratorChoice.Simd, StragglerModel = "throttle:workers=0,factor=4", Assignment = "proportional",
    };

    [Fact]
    public async Task Proportional_bsp_over_grpc_on_two_shards_computes_the_full_batch_gradient_step()
    {
        var log = new CapturedLog();
        var result = await TrainingRun.RunAsync(Settings, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);

        FullBatchReference.AssertClose(FullBatchReference.Descend(Settings), result.Parameters, 1e-5);
        // The coordinator published version 1 and every worker loaded the partitions of that version: together every row once.
        Assert.Contains(log.Events, e => e.MessageTemplate.Text.StartsWith("Assignment version") && CapturedLog.Property(e, "Version") is 1L);
        var held = log.Events.Where(e => e.Level == Serilog.Events.LogEventLevel.Information && e.MessageTemplate.Text.Contains("holds partitions")).ToArray();
        Assert.Equal(3, held.Length);
        Assert.Equal(FullBatchReference.TrainRows(Settings), held.Sum(e => (int)CapturedLog.Property(e, "Rows")!));
    }

    [Fact]
    public async Task Proportional_bsp_in_worker_and_server_processes_computes_the_full_batch_gradient_step()
    {
        var result = await TrainingRun.RunAsync(Settings with { Processes = true }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        FullBatchReference.AssertClose(FullBatchReference.Descend(Settings), result.Parameters, 1e-5);
    }
}
