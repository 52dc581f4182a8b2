using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// The defect this guards: fractional repetition, n = 8, s = 1 (groups of 2), with workers 2 and 5 — in different
/// groups — 0.5 s late every step. The six others cover every group, so no step may wait for either; a rule that waits
/// for n − s = 7 responders needs one of them every step. Asserted on events, not time: neither slow worker ever has a
/// push accepted, and the model still equals BSP's full-batch gradient descent.
/// </summary>
public class FractionalStragglerTests
{
    private static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=800,features=16,classes=3,separation=2",
        Model = Kernels.ModelKind.Softmax,
        Workers = 8,
        Steps = 10,
        BatchSize = 0,
        LearningRate = 0.5f,
        Seed = 11,
        Accelerator = AcceleratorChoice.Simd,
    };

    [Fact]
    public async Task Slow_workers_in_different_groups_are_never_waited_for_and_the_model_equals_bsp()
    {
        var bsp = await TrainingRun.RunAsync(Settings with { Mode = SyncMode.Bsp }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var coded = await TrainingRun.RunAsync(
            Settings with { Mode = SyncMode.Coded, Code = "fractional", Stragglers = 1, StragglerModel = "persistent:workers=2+5,delay=0.5" },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(bsp.Steps, coded.Steps);
        foreach (int slow in new[] { 2, 5 })
        {
            var worker = coded.WorkerReports.Single(w => w.WorkerId == slow);
            Assert.Equal(0, worker.BytesPushed);
        }
        // One replica per group suffices, so fast replicas may be late too; every group still got in every step.
        Assert.All(new[] { (0, 1), (2, 3), (4, 5), (6, 7) }, group => Assert.True(
            coded.WorkerReports.Where(w => w.WorkerId == group.Item1 || w.WorkerId == group.Item2).Sum(w => w.BytesPushed) > 0));
        for (int i = 0; i < bsp.Parameters.Count; i++)
            Assert.True(Math.Abs(coded.Parameters[i] - bsp.Parameters[i]) <= 1e-5 + 1e-5 * Math.Abs(bsp.Parameters[i]),
                $"parameter {i}: coded {coded.Parameters[i]}, BSP {bsp.Parameters[i]}");
    }
}
