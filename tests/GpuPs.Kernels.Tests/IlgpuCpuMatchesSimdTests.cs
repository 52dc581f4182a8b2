using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// The ILGPU CPU accelerator and the SIMD backend agree on a larger problem than the per-backend suites use (more rows
/// than threads per block, several blocks per thread), for every model; optimizer state moves between them.
/// </summary>
public sealed class IlgpuCpuMatchesSimdTests(SimdBackendFixture simdFixture, IlgpuCpuBackendFixture ilgpuFixture)
    : IClassFixture<SimdBackendFixture>, IClassFixture<IlgpuCpuBackendFixture>
{
    private readonly IComputeBackend _simd = simdFixture.Backend;
    private readonly IComputeBackend _ilgpu = ilgpuFixture.Backend;

    public static TheoryData<ModelKind> Models => new() { ModelKind.Logistic, ModelKind.Softmax, ModelKind.Mlp };

    [Theory]
    [MemberData(nameof(Models))]
    public void LossGradientAndEvaluationAgree(ModelKind kind)
    {
        var shape = new ModelShape(kind, Features: 24, Classes: kind == ModelKind.Logistic ? 2 : 6, Hidden: kind == ModelKind.Mlp ? 16 : 0);
        var data = TestData.Data(shape, 517, seed: 11);
        var parameters = kind == ModelKind.Mlp ? ModelInitializer.Initialize(shape, 3) : TestData.Parameters(shape, seed: 12, bound: 0.3);
        using var simd = _simd.CreateGradientKernel(shape);
        using var ilgpu = _ilgpu.CreateGradientKernel(shape);
        var simdGradient = new float[shape.ParameterCount];
        var ilgpuGradient = new float[shape.ParameterCount];
        foreach (var kernel in new[] { simd, ilgpu })
        {
            kernel.SetData(data.Features, data.Labels);
            kernel.LoadParameters(parameters);
        }

        double simdLoss = simd.AddGradient(17, 300, scale: 0.25f) + simd.AddGradient(317, 180, scale: -1.5f);
        double ilgpuLoss = ilgpu.AddGradient(17, 300, scale: 0.25f) + ilgpu.AddGradient(317, 180, scale: -1.5f);
        simd.ReadGradient(simdGradient);
        ilgpu.ReadGradient(ilgpuGradient);

        TestData.AssertClose(simdLoss, ilgpuLoss, 1e-5, "loss");
        TestData.AssertClose(simdGradient, ilgpuGradient, 1e-4, "gradient");
        var simdEvaluation = simd.Evaluate(0, 517);
        var ilgpuEvaluation = ilgpu.Evaluate(0, 517);
        Assert.Equal(simdEvaluation.Correct, ilgpuEvaluation.Correct);
        TestData.AssertClose(simdEvaluation.LossSum, ilgpuEvaluation.LossSum, 1e-5, "evaluation loss");
    }

    [Fact]
    public void IlgpuIsDeterministic()
    {
        var shape = new ModelShape(ModelKind.Mlp, Features: 12, Classes: 3, Hidden: 8);
        var data = TestData.Data(shape, 300);
        var parameters = ModelInitializer.Initialize(shape, 1);
        using var kernel = _ilgpu.CreateGradientKernel(shape);
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

    /// <summary>A checkpoint is portable: Adam state exported by SIMD continues on the ILGPU CPU accelerator.</summary>
    [Fact]
    public void OptimizerStateMovesBetweenBackends()
    {
        const int length = 1003;
        var settings = new OptimizerSettings(OptimizerKind.Adam, LearningRate: 0.05f, WeightDecay: 0.01f);
        using var simd = _simd.CreateOptimizer(settings, length);
        using var ilgpu = _ilgpu.CreateOptimizer(settings, length);
        var parameters = TestData.Vector(length, seed: 1);
        for (int step = 1; step <= 3; step++) simd.Apply(parameters, TestData.Vector(length, seed: 10 + step, bound: 2));

        ilgpu.ImportState(simd.ExportState());
        var moved = (float[])parameters.Clone();
        for (int step = 4; step <= 5; step++)
        {
            var gradient = TestData.Vector(length, seed: 10 + step, bound: 2);
            simd.Apply(parameters, gradient);
            ilgpu.Apply(moved, gradient);
        }

        Assert.Equal(5, ilgpu.Steps);
        TestData.AssertClose(parameters, moved, 1e-5, "parameters");
    }
}
