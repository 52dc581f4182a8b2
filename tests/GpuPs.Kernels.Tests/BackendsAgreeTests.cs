using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// An ILGPU device and a reference backend agree on larger problems than the per-backend suites use (more rows than
/// threads per block, several blocks per thread, a batch over many launches' worth of rows), for every model; optimizer
/// state moves between them. Run once per pair by the subclasses below.
/// </summary>
public abstract class BackendsAgreeTests(BackendFixture referenceFixture, BackendFixture deviceFixture)
{
    private IComputeBackend Reference => referenceFixture.Backend;
    private IComputeBackend Device => deviceFixture.Backend;

    public static TheoryData<ModelKind> Models => new() { ModelKind.Logistic, ModelKind.Softmax, ModelKind.Mlp };

    [BackendTheory]
    [MemberData(nameof(Models))]
    public void LossGradientAndEvaluationAgree(ModelKind kind) =>
        Agree(new ModelShape(kind, Features: 24, Classes: kind == ModelKind.Logistic ? 2 : 6, Hidden: kind == ModelKind.Mlp ? 16 : 0), 517);

    /// <summary>Shapes whose sizes are not multiples of any tile or warp, and a batch of thousands of rows.</summary>
    [BackendTheory]
    [InlineData(ModelKind.Mlp, 67, 37, 10, 3001)]
    [InlineData(ModelKind.Softmax, 130, 0, 17, 2049)]
    [InlineData(ModelKind.Mlp, 3, 129, 2, 1000)]
    public void LargerShapesAgree(ModelKind kind, int features, int hidden, int classes, int rows) =>
        Agree(new ModelShape(kind, features, classes, hidden), rows);

    private void Agree(ModelShape shape, int rows)
    {
        var kind = shape.Kind;
        var data = TestData.Data(shape, rows, seed: 11);
        var parameters = kind == ModelKind.Mlp ? ModelInitializer.Initialize(shape, 3) : TestData.Parameters(shape, seed: 12, bound: 0.3);
        using var reference = Reference.CreateGradientKernel(shape);
        using var device = Device.CreateGradientKernel(shape);
        var referenceGradient = new float[shape.ParameterCount];
        var deviceGradient = new float[shape.ParameterCount];
        foreach (var kernel in new[] { reference, device })
        {
            kernel.SetData(data.Features, data.Labels);
            kernel.LoadParameters(parameters);
        }

        int first = rows * 3 / 5, second = rows - first - 20;
        double referenceLoss = reference.AddGradient(17, first, scale: 0.25f) + reference.AddGradient(17 + first, second, scale: -1.5f);
        double deviceLoss = device.AddGradient(17, first, scale: 0.25f) + device.AddGradient(17 + first, second, scale: -1.5f);
        reference.ReadGradient(referenceGradient);
        device.ReadGradient(deviceGradient);

        TestData.AssertClose(referenceLoss, deviceLoss, 1e-5, "loss");
        TestData.AssertClose(referenceGradient, deviceGradient, 1e-4, "gradient");
        var referenceEvaluation = reference.Evaluate(0, rows);
        var deviceEvaluation = device.Evaluate(0, rows);
        Assert.Equal(referenceEvaluation.Correct, deviceEvaluation.Correct);
        TestData.AssertClose(referenceEvaluation.LossSum, deviceEvaluation.LossSum, 1e-5, "evaluation loss");
    }

    [BackendFact]
    public void IlgpuIsDeterministic()
    {
        var shape = new ModelShape(ModelKind.Mlp, Features: 12, Classes: 3, Hidden: 8);
        var data = TestData.Data(shape, 300);
        var parameters = ModelInitializer.Initialize(shape, 1);
        using var kernel = Device.CreateGradientKernel(shape);
        kernel.SetData(data.Features, data.Labels);
        kernel.LoadParameters(parameters);
        var first = new float[shape.ParameterCount];
        var second = new float[shape.ParameterCount];

        double firstLoss = kernel.AddGradient(0, 300);
        kernel.ReadGradient(first);
        double secondLoss = kernel.AddGradient(0, 300);
        kernel.ReadGradient(second);

        Assert.Equal(firstLoss, secondLoss);
        Assert.Equal(first, second);
    }

    /// <summary>A checkpoint is portable: Adam state exported by the reference continues on the device.</summary>
    [BackendFact]
    public void OptimizerStateMovesBetweenBackends()
    {
        const int length = 1003;
        var settings = new OptimizerSettings(OptimizerKind.Adam, LearningRate: 0.05f, WeightDecay: 0.01f);
        using var reference = Reference.CreateOptimizer(settings, length);
        using var device = Device.CreateOptimizer(settings, length);
        var parameters = TestData.Vector(length, seed: 1);
        for (int step = 1; step <= 3; step++) reference.Apply(parameters, TestData.Vector(length, seed: 10 + step, bound: 2));

        device.ImportState(reference.ExportState());
        var moved = (float[])parameters.Clone();
        for (int step = 4; step <= 5; step++)
        {
            var gradient = TestData.Vector(length, seed: 10 + step, bound: 2);
            reference.Apply(parameters, gradient);
            device.Apply(moved, gradient);
        }

        Assert.Equal(5, device.Steps);
        TestData.AssertClose(parameters, moved, 1e-5, "parameters");
    }
}

public sealed class IlgpuCpuMatchesSimdTests(SimdBackendFixture simd, IlgpuCpuBackendFixture ilgpu)
    : BackendsAgreeTests(simd, ilgpu), IClassFixture<SimdBackendFixture>, IClassFixture<IlgpuCpuBackendFixture>;

/// <summary>CUDA results equal the CPU accelerator's (the CI stand-in for CUDA) within float tolerance.</summary>
[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaMatchesIlgpuCpuTests(IlgpuCpuBackendFixture cpu, CudaBackendFixture cuda)
    : BackendsAgreeTests(cpu, cuda), IClassFixture<IlgpuCpuBackendFixture>, IClassFixture<CudaBackendFixture>;
