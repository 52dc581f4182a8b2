using GpuPs.Cli.Cluster;
using GpuPs.Core.Data;
using GpuPs.Kernels;
using GpuPs.Tests.Shared;
using Serilog.Events;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>The trainer's evaluation: every row of a large set, as one whole-set evaluation; the device follows the workers'.</summary>
public sealed class ModelEvaluatorTests
{
    [Fact]
    public void EvaluationCoversEveryRowAsOneCall()
    {
        var data = PreparedData.Prepare("synthetic:rows=49152,features=6,classes=3", 0.2, seed: 4);
        var shape = new ModelShape(ModelKind.Mlp, data.FeatureCount, data.ClassCount, Hidden: 5);
        var parameters = ModelInitializer.Initialize(shape, 9);
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var whole = backend.CreateGradientKernel(shape);
        whole.SetData(data.Train.Features, data.Train.Labels);
        whole.LoadParameters(parameters);
        var expected = whole.Evaluate(0, whole.Rows);

        using var evaluator = new ModelEvaluator(data, shape);
        var (train, test) = evaluator.Evaluate(parameters);

        Assert.Equal(expected.Rows, train.Rows);
        Assert.Equal(expected.Correct, train.Correct);
        Assert.Equal(expected.LossSum, train.LossSum, expected.LossSum * 1e-12);
        Assert.Equal(data.Test.Rows, test.Rows);
    }

    [Theory]
    [InlineData(new[] { AcceleratorChoice.Cuda, AcceleratorChoice.Simd, AcceleratorChoice.Simd }, AcceleratorChoice.Cuda)]
    [InlineData(new[] { AcceleratorChoice.Simd, AcceleratorChoice.OpenCL }, AcceleratorChoice.OpenCL)]
    [InlineData(new[] { AcceleratorChoice.Auto }, AcceleratorChoice.Auto)]
    [InlineData(new[] { AcceleratorChoice.Cpu, AcceleratorChoice.Simd }, AcceleratorChoice.Simd)]
    public void EvaluationRunsOnTheWorkersGpu(AcceleratorChoice[] workers, AcceleratorChoice expected) =>
        Assert.Equal(expected, ModelEvaluator.DeviceFor(workers));

    /// <summary>A device that cannot be had (no CUDA here) falls back to SIMD with a warning, and evaluates the same.</summary>
    [Fact]
    public void AnUnusableDeviceFallsBackToSimd()
    {
        var data = PreparedData.Prepare("synthetic:rows=500,features=5,classes=3", 0.2, seed: 2);
        var shape = new ModelShape(ModelKind.Softmax, data.FeatureCount, data.ClassCount);
        var parameters = ModelInitializer.Initialize(shape, 1);
        var log = new CapturedLog();
        using var simd = new ModelEvaluator(data, shape);

        using var cuda = new ModelEvaluator(data, shape, AcceleratorChoice.Cuda, log.Logger);

        Assert.Equal(simd.Evaluate(parameters).Test.Correct, cuda.Evaluate(parameters).Test.Correct);
        bool warned = log.Events.Any(e => e.Level == LogEventLevel.Warning && e.RenderMessage().Contains("Evaluating on SIMD"));
        Assert.Equal(!Accelerators.IsAvailable(AcceleratorChoice.Cuda), warned);
    }
}
