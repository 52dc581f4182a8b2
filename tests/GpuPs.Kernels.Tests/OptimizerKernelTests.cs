using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary><see cref="IOptimizerKernel"/> against <see cref="ReferenceOptimizer"/> over several steps, per backend.</summary>
public abstract class OptimizerKernelTests(BackendFixture fixture)
{
    private const int Length = 1003;  // not a multiple of any SIMD width or thread count

    public static TheoryData<OptimizerKind, float> Cases => new()
    {
        { OptimizerKind.Sgd, 0f }, { OptimizerKind.Sgd, 0.01f },
        { OptimizerKind.Momentum, 0f }, { OptimizerKind.Momentum, 0.01f },
        { OptimizerKind.Adam, 0f }, { OptimizerKind.Adam, 0.01f },
    };

    [BackendTheory]
    [MemberData(nameof(Cases))]
    public void StepsMatchReferenceFormulas(OptimizerKind kind, float weightDecay)
    {
        var settings = new OptimizerSettings(kind, LearningRate: 0.05f, WeightDecay: weightDecay);
        using var optimizer = fixture.Backend.CreateOptimizer(settings, Length);
        var parameters = TestData.Vector(Length, seed: 1);
        var expected = TestData.ToDouble(parameters);
        var reference = new ReferenceOptimizer(settings, Length);

        for (int step = 1; step <= 5; step++)
        {
            var gradient = TestData.Vector(Length, seed: 10 + step, bound: 2);
            optimizer.Apply(parameters, gradient);
            reference.Apply(expected, gradient);
            Assert.Equal(step, optimizer.Steps);
        }

        TestData.AssertClose(expected, parameters, 1e-5, $"{kind} parameters");
        Assert.Equal(settings, optimizer.Settings);
        Assert.Equal(Length, optimizer.Length);
    }

    [BackendFact]
    public void MismatchedLengthsAreRejected()
    {
        using var optimizer = fixture.Backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Adam, 0.1f), 4);
        Assert.Throws<ArgumentException>(() => optimizer.Apply(new float[4], new float[3]));
        Assert.Equal(0, optimizer.Steps);
    }
}

public sealed class SimdOptimizerKernelTests(SimdBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuOptimizerKernelTests(IlgpuCpuBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaOptimizerKernelTests(CudaBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLOptimizerKernelTests(OpenCLBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<OpenCLBackendFixture>;
