using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Models;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// <c>gpups train</c>'s evaluation history on the embedded cluster: one evaluation at the end of every epoch, of the model
/// at exactly that step, however fast the workers run beside the driver's status poll (the README's digits job trains
/// 20 epochs in a fraction of a second and the poll used to see two of them).
/// </summary>
public class EpochEvaluationTests
{
    [Fact]
    public async Task Every_full_batch_step_is_evaluated_on_the_model_of_that_step()
    {
        var settings = BspExactnessTests.Settings with { Steps = 6, Accelerator = AcceleratorChoice.Simd };
        var result = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        // Full batch: an epoch is a step.
        Assert.Equal([1L, 2, 3, 4, 5, 6], result.History.Select(e => e.Step));
        var data = PreparedData.Prepare(settings.Dataset, settings.TestFraction, settings.Seed);
        using var evaluator = new ModelEvaluator(data, new ModelShape(settings.Model, data.FeatureCount, data.ClassCount));
        foreach (var epoch in result.History)
        {
            var reference = FullBatchReference.Descend(settings with { Steps = epoch.Step }).Select(v => (float)v).ToArray();
            var (train, test) = evaluator.Evaluate(reference);
            Assert.Equal(test.MeanLoss, epoch.TestLoss, 1e-4);
            Assert.Equal(train.MeanLoss, epoch.TrainLoss, 1e-4);
            Assert.Equal(test.Accuracy, epoch.TestAccuracy, 1e-9);
        }
    }

    [Theory]
    [InlineData(SyncMode.Bsp)]
    [InlineData(SyncMode.Asp)]
    public async Task A_mini_batch_run_on_digits_has_one_evaluation_per_epoch_at_its_last_step(SyncMode mode)
    {
        var settings = new TrainSettings
        {
            Dataset = "digits", Model = Kernels.ModelKind.Softmax, Workers = 4, Servers = 2, Mode = mode, Epochs = 3, Steps = 0, BatchSize = 32,
            Accelerator = AcceleratorChoice.Simd,
        };
        var data = PreparedData.Prepare(settings.Dataset, settings.TestFraction, settings.Seed);
        int stepsPerEpoch = Core.Training.TrainingJob.StepsPerEpoch(data.Train.Rows, settings.Workers, settings.BatchSize);
        var result = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(3 * stepsPerEpoch, result.Steps);
        Assert.Equal([1.0, 2.0, 3.0], result.History.Select(e => e.Epoch));
        Assert.Equal([stepsPerEpoch, 2L * stepsPerEpoch, 3L * stepsPerEpoch], result.History.Select(e => e.Step));
        // The last epoch's evaluation is the final model's.
        Assert.Equal(result.TestAccuracy, result.History[^1].TestAccuracy);
        Assert.True(result.History.Zip(result.History.Skip(1)).All(p => p.First.WallSeconds <= p.Second.WallSeconds), "epochs out of order");
    }
}
