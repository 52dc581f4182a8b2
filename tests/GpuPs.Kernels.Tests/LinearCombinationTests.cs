using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary><see cref="IComputeBackend.LinearCombination"/> (gradient-coding encode) against a scalar loop, per backend.</summary>
public abstract class LinearCombinationTests(BackendFixture fixture)
{
    [BackendTheory]
    [InlineData(1, 1)]
    [InlineData(3, 1001)]
    [InlineData(5, 4096)]
    public void MatchesReference(int inputCount, int length)
    {
        var inputs = Enumerable.Range(0, inputCount).Select(j => TestData.Vector(length, seed: 20 + j)).ToArray();
        var coefficients = TestData.Vector(inputCount, seed: 7, bound: 3);
        var output = TestData.Vector(length, seed: 8);  // garbage that must be overwritten

        fixture.Backend.LinearCombination(coefficients, inputs, output);

        var expected = new double[length];
        for (int k = 0; k < length; k++)
            for (int j = 0; j < inputCount; j++) expected[k] += (double)coefficients[j] * inputs[j][k];
        TestData.AssertClose(expected, output, 1e-5, "combination");
    }

    [BackendFact]
    public void NoInputsGiveZeros()
    {
        var output = TestData.Vector(10, seed: 1);
        fixture.Backend.LinearCombination([], [], output);
        Assert.All(output, v => Assert.Equal(0f, v));
    }

    [BackendFact]
    public void MismatchedShapesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => fixture.Backend.LinearCombination([1f], [new float[3], new float[3]], new float[3]));
        Assert.Throws<ArgumentException>(() => fixture.Backend.LinearCombination([1f, 2f], [new float[3], new float[2]], new float[3]));
    }
}

public sealed class SimdLinearCombinationTests(SimdBackendFixture fixture) : LinearCombinationTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuLinearCombinationTests(IlgpuCpuBackendFixture fixture) : LinearCombinationTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaLinearCombinationTests(CudaBackendFixture fixture) : LinearCombinationTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLLinearCombinationTests(OpenCLBackendFixture fixture) : LinearCombinationTests(fixture), IClassFixture<OpenCLBackendFixture>;
