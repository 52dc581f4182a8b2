using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// <see cref="IGradientKernel"/> contract, run once per backend by the subclasses below: gradients against the scalar
/// double-precision <see cref="ReferenceModel"/> and against finite differences, row-range additivity,
/// scale/accumulate, evaluation and argument checks.
/// </summary>
public abstract class GradientKernelTests(BackendFixture fixture)
{
    private const int Rows = 37;  // odd, so that row ranges and thread blocks do not line up

    private IComputeBackend Backend => fixture.Backend;

    private IGradientKernel Kernel(ModelShape shape, TestData.DataSet data)
    {
        var kernel = Backend.CreateGradientKernel(shape);
        kernel.SetData(data.Features, data.Labels);
        return kernel;
    }

    [BackendFact]
    public void LogisticGradientMatchesReference() => GradientMatchesReference(TestData.Logistic);

    [BackendFact]
    public void SoftmaxGradientMatchesReference() => GradientMatchesReference(TestData.Softmax);

    [BackendFact]
    public void MlpGradientMatchesReference() => GradientMatchesReference(TestData.Mlp);

    private void GradientMatchesReference(ModelShape shape)
    {
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];

        double loss = kernel.LossAndGradient(parameters, 3, 30, gradient);

        var expected = ReferenceModel.Compute(shape, TestData.ToDouble(parameters), data.Features, data.Labels, 3, 30);
        TestData.AssertClose(expected.Loss, loss, 1e-5, "loss");
        TestData.AssertClose(expected.Gradient, gradient, 1e-4, "gradient");
    }

    [BackendFact]
    public void LogisticGradientMatchesFiniteDifferences() => GradientMatchesFiniteDifferences(TestData.Logistic);

    [BackendFact]
    public void SoftmaxGradientMatchesFiniteDifferences() => GradientMatchesFiniteDifferences(TestData.Softmax);

    [BackendFact]
    public void MlpGradientMatchesFiniteDifferences() => GradientMatchesFiniteDifferences(TestData.Mlp);

    /// <summary>Central differences of the double-precision loss: checks the kernel computes the loss's true gradient.</summary>
    private void GradientMatchesFiniteDifferences(ModelShape shape)
    {
        var data = TestData.Data(shape, Rows, seed: 5);
        var parameters = TestData.Parameters(shape, seed: 6);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LossAndGradient(parameters, 0, Rows, gradient);

        var p = TestData.ToDouble(parameters);
        var numeric = new double[p.Length];
        const double h = 1e-6;
        for (int i = 0; i < p.Length; i++)
        {
            double original = p[i];
            p[i] = original + h;
            double plus = ReferenceModel.Loss(shape, p, data.Features, data.Labels, 0, Rows);
            p[i] = original - h;
            double minus = ReferenceModel.Loss(shape, p, data.Features, data.Labels, 0, Rows);
            p[i] = original;
            numeric[i] = (plus - minus) / (2 * h);
        }
        TestData.AssertClose(numeric, gradient, 1e-4, "gradient vs finite differences");
    }

    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void DisjointRowRangesAddUpToTheFullRange(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var full = new float[shape.ParameterCount];
        var parts = new float[shape.ParameterCount];

        double fullLoss = kernel.LossAndGradient(parameters, 0, Rows, full);
        double partLoss = kernel.LossAndGradient(parameters, 0, 11, parts);
        partLoss += kernel.LossAndGradient(parameters, 11, Rows - 11, parts, accumulate: true);

        TestData.AssertClose(fullLoss, partLoss, 1e-6, "loss");
        TestData.AssertClose(full, parts, 1e-5, "gradient");
    }

    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void ScaleAndAccumulateComputeTheCodedSum(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var g1 = new float[shape.ParameterCount];
        var g2 = new float[shape.ParameterCount];
        kernel.LossAndGradient(parameters, 0, 20, g1);
        kernel.LossAndGradient(parameters, 20, 17, g2);

        // c = 0.5·g1 − 2·g2, fused: the first call overwrites whatever the buffer held.
        var coded = TestData.Vector(shape.ParameterCount, seed: 9, bound: 100);
        double unscaledLoss = kernel.LossAndGradient(parameters, 0, 20, coded, scale: 0.5f);
        kernel.LossAndGradient(parameters, 20, 17, coded, scale: -2f, accumulate: true);

        var expected = new double[shape.ParameterCount];
        for (int i = 0; i < expected.Length; i++) expected[i] = 0.5 * g1[i] - 2.0 * g2[i];
        TestData.AssertClose(expected, coded, 1e-5, "coded gradient");
        var reference = ReferenceModel.Compute(shape, TestData.ToDouble(parameters), data.Features, data.Labels, 0, 20);
        TestData.AssertClose(reference.Loss, unscaledLoss, 1e-5, "loss is not scaled");
    }

    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void EvaluateMatchesReference(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows, seed: 3);
        var parameters = TestData.Parameters(shape, seed: 4, bound: 1.5);
        using var kernel = Kernel(shape, data);

        var result = kernel.Evaluate(parameters, 5, 32);

        var expected = ReferenceModel.Compute(shape, TestData.ToDouble(parameters), data.Features, data.Labels, 5, 32);
        Assert.Equal(32, result.Rows);
        Assert.Equal(expected.Correct, result.Correct);
        Assert.InRange(result.Correct, 1, 31);  // the check is only meaningful when some rows are right and some wrong
        TestData.AssertClose(expected.Loss, result.LossSum, 1e-5, "loss");
    }

    [BackendFact]
    public void EmptyRangeGivesZeroLossAndGradientAndKeepsAccumulatedValues()
    {
        var shape = TestData.Mlp;
        using var kernel = Kernel(shape, TestData.Data(shape, Rows));
        var parameters = TestData.Parameters(shape);
        var gradient = TestData.Vector(shape.ParameterCount, seed: 3);
        var before = (float[])gradient.Clone();

        Assert.Equal(0, kernel.LossAndGradient(parameters, Rows, 0, gradient, accumulate: true));
        Assert.Equal(before, gradient);
        Assert.Equal(0, kernel.LossAndGradient(parameters, 0, 0, gradient));
        Assert.All(gradient, g => Assert.Equal(0f, g));
        Assert.Equal(new EvaluationResult(0, 0, 0), kernel.Evaluate(parameters, 0, 0));
    }

    [BackendFact]
    public void LargerBatchAfterSmallerOneIsStillCorrect()
    {
        var shape = TestData.Softmax;
        var data = TestData.Data(shape, 200);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LossAndGradient(parameters, 0, 3, gradient);

        double loss = kernel.LossAndGradient(parameters, 10, 190, gradient);

        var expected = ReferenceModel.Compute(shape, TestData.ToDouble(parameters), data.Features, data.Labels, 10, 190);
        TestData.AssertClose(expected.Loss, loss, 1e-5, "loss");
        TestData.AssertClose(expected.Gradient, gradient, 1e-4, "gradient");
    }

    [BackendFact]
    public void LossIsFiniteForExtremeLogits()
    {
        var shape = TestData.Softmax;
        var data = TestData.Data(shape, Rows);
        using var kernel = Kernel(shape, data);
        var parameters = TestData.Parameters(shape, bound: 300);
        var gradient = new float[shape.ParameterCount];

        double loss = kernel.LossAndGradient(parameters, 0, Rows, gradient);

        Assert.True(double.IsFinite(loss), $"loss {loss}");
        Assert.All(gradient, g => Assert.True(float.IsFinite(g)));
    }

    [BackendFact]
    public void BadArgumentsAreRejected()
    {
        var shape = TestData.Softmax;
        using var kernel = Backend.CreateGradientKernel(shape);
        var data = TestData.Data(shape, 4);
        Assert.Throws<ArgumentException>(() => kernel.SetData(data.Features.AsSpan(1), data.Labels));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.SetData(data.Features, [0, 1, 2, 4]));
        kernel.SetData(data.Features, data.Labels);
        Assert.Equal(4, kernel.Rows);
        var parameters = new float[shape.ParameterCount];
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Evaluate(parameters, 2, 3));
        Assert.Throws<ArgumentException>(() => kernel.Evaluate(parameters.AsSpan(1), 0, 1));
        Assert.Throws<ArgumentException>(() => kernel.LossAndGradient(parameters, 0, 1, new float[3]));
    }
}

public sealed class SimdGradientKernelTests(SimdBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuGradientKernelTests(IlgpuCpuBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaGradientKernelTests(CudaBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLGradientKernelTests(OpenCLBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<OpenCLBackendFixture>;
