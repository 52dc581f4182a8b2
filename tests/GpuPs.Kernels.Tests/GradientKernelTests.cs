using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// <see cref="IGradientKernel"/> contract, run once per backend by the subclasses below: gradients against the scalar
/// double-precision <see cref="ReferenceModel"/> and against finite differences, row-range additivity, the step's
/// accumulator (coded weighted sums, reads that empty it, discarded repeats, new parameters), evaluation and argument
/// checks.
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

    /// <summary>The read-back gradient of one <see cref="IGradientKernel.AddGradient"/> over a range; returns its loss.</summary>
    private static double GradientOf(IGradientKernel kernel, int start, int count, float[] gradient)
    {
        double loss = kernel.AddGradient(start, count);
        kernel.ReadGradient(gradient);
        return loss;
    }

    private static ReferenceModel.Result Reference(ModelShape shape, float[] parameters, TestData.DataSet data, int start, int count) =>
        ReferenceModel.Compute(shape, TestData.ToDouble(parameters), data.Features, data.Labels, start, count);

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
        kernel.LoadParameters(parameters);

        double loss = GradientOf(kernel, 3, 30, gradient);

        var expected = Reference(shape, parameters, data, 3, 30);
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
        kernel.LoadParameters(parameters);
        GradientOf(kernel, 0, Rows, gradient);

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
        using var kernel = Kernel(shape, data);
        var full = new float[shape.ParameterCount];
        var parts = new float[shape.ParameterCount];
        kernel.LoadParameters(TestData.Parameters(shape));

        double fullLoss = GradientOf(kernel, 0, Rows, full);
        double partLoss = kernel.AddGradient(0, 11);
        partLoss += kernel.AddGradient(11, Rows - 11);
        kernel.ReadGradient(parts);

        TestData.AssertClose(fullLoss, partLoss, 1e-6, "loss");
        TestData.AssertClose(full, parts, 1e-5, "gradient");
    }

    /// <summary>The coded encode of a worker holding three partitions: Σ_h w_h g_h, read once; losses stay unscaled.</summary>
    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void CodedAccumulationAcrossPartitionsIsTheWeightedSum(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        (int Start, int Count, float Weight)[] partitions = [(0, 12, 0.5f), (12, 13, -2f), (25, 12, 1.25f)];
        kernel.LoadParameters(parameters);

        var losses = partitions.Select(p => kernel.AddGradient(p.Start, p.Count, p.Weight)).ToArray();
        var coded = TestData.Vector(shape.ParameterCount, seed: 9, bound: 100);  // garbage that must be overwritten
        kernel.ReadGradient(coded);

        var expected = new double[shape.ParameterCount];
        for (int h = 0; h < partitions.Length; h++)
        {
            var reference = Reference(shape, parameters, data, partitions[h].Start, partitions[h].Count);
            for (int i = 0; i < expected.Length; i++) expected[i] += partitions[h].Weight * reference.Gradient[i];
            TestData.AssertClose(reference.Loss, losses[h], 1e-5, $"partition {h} loss (unscaled)");
        }
        TestData.AssertClose(expected, coded, 1e-4, "coded gradient");
    }

    [BackendFact]
    public void ReadingEmptiesTheAccumulator()
    {
        var shape = TestData.Softmax;
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(parameters);
        GradientOf(kernel, 0, 20, gradient);

        kernel.ReadGradient(gradient);
        Assert.All(gradient, g => Assert.Equal(0f, g));

        // The next message holds only its own partition, not the first one's too.
        kernel.AddGradient(20, 17, scale: 3f);
        kernel.ReadGradient(gradient);
        var expected = Reference(shape, parameters, data, 20, 17).Gradient.Select(g => 3 * g).ToArray();
        TestData.AssertClose(expected, gradient, 1e-5, "second message");
    }

    /// <summary>A throttled worker's discarded repeats, before and between weighted adds, change nothing.</summary>
    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void DiscardedGradientsLeaveTheAccumulatorUnchanged(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = TestData.Vector(shape.ParameterCount, seed: 4);
        kernel.LoadParameters(parameters);

        kernel.ComputeAndDiscardGradient(0, 20);
        kernel.ReadGradient(gradient);
        Assert.All(gradient, g => Assert.Equal(0f, g));

        kernel.AddGradient(0, 20, scale: 0.5f);
        double discardedLoss = kernel.ComputeAndDiscardGradient(20, 17);
        kernel.ComputeAndDiscardGradient(0, Rows);
        kernel.AddGradient(20, 17, scale: -2f);
        kernel.ReadGradient(gradient);

        var first = Reference(shape, parameters, data, 0, 20);
        var second = Reference(shape, parameters, data, 20, 17);
        var expected = first.Gradient.Zip(second.Gradient, (a, b) => 0.5 * a - 2 * b).ToArray();
        TestData.AssertClose(expected, gradient, 1e-4, "gradient without the discarded ones");
        TestData.AssertClose(second.Loss, discardedLoss, 1e-5, "loss of the discarded computation");
    }

    /// <summary>Each step computes at the parameters loaded for it; a step abandoned before its read leaves nothing.</summary>
    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void LoadingParametersStartsANewStep(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows);
        var first = TestData.Parameters(shape, seed: 2);
        var second = TestData.Parameters(shape, seed: 3);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(first);
        GradientOf(kernel, 0, Rows, gradient);
        TestData.AssertClose(Reference(shape, first, data, 0, Rows).Gradient, gradient, 1e-4, "step 1 gradient");
        kernel.AddGradient(0, 10);  // abandoned: never read

        kernel.LoadParameters(second);
        double loss = GradientOf(kernel, 0, Rows, gradient);
        var evaluation = kernel.Evaluate(0, Rows);

        var expected = Reference(shape, second, data, 0, Rows);
        TestData.AssertClose(expected.Gradient, gradient, 1e-4, "step 2 gradient");
        TestData.AssertClose(expected.Loss, loss, 1e-5, "step 2 loss");
        TestData.AssertClose(expected.Loss, evaluation.LossSum, 1e-5, "step 2 evaluation");
        Assert.Equal(expected.Correct, evaluation.Correct);
    }

    [BackendTheory]
    [MemberData(nameof(TestData.ShapeNames), MemberType = typeof(TestData))]
    public void EvaluateMatchesReferenceAndLeavesTheAccumulatorUnchanged(string shapeName)
    {
        var shape = TestData.Shape(shapeName);
        var data = TestData.Data(shape, Rows, seed: 3);
        var parameters = TestData.Parameters(shape, seed: 4, bound: 1.5);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(parameters);
        kernel.AddGradient(0, 10);

        var result = kernel.Evaluate(5, 32);

        var expected = Reference(shape, parameters, data, 5, 32);
        Assert.Equal(32, result.Rows);
        Assert.Equal(expected.Correct, result.Correct);
        Assert.InRange(result.Correct, 1, 31);  // the check is only meaningful when some rows are right and some wrong
        TestData.AssertClose(expected.Loss, result.LossSum, 1e-5, "loss");
        kernel.ReadGradient(gradient);
        TestData.AssertClose(Reference(shape, parameters, data, 0, 10).Gradient, gradient, 1e-4, "gradient added before the evaluation");
    }

    [BackendFact]
    public void EmptyRangeGivesZeroLossAndLeavesTheAccumulatorUnchanged()
    {
        var shape = TestData.Mlp;
        var data = TestData.Data(shape, Rows);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = TestData.Vector(shape.ParameterCount, seed: 3);
        kernel.LoadParameters(parameters);

        Assert.Equal(0, kernel.AddGradient(0, 0));
        kernel.ReadGradient(gradient);
        Assert.All(gradient, g => Assert.Equal(0f, g));

        kernel.AddGradient(0, 5);
        Assert.Equal(0, kernel.AddGradient(Rows, 0, scale: 7f));
        Assert.Equal(0, kernel.ComputeAndDiscardGradient(Rows, 0));
        kernel.ReadGradient(gradient);
        TestData.AssertClose(Reference(shape, parameters, data, 0, 5).Gradient, gradient, 1e-4, "gradient");
        Assert.Equal(new EvaluationResult(0, 0, 0), kernel.Evaluate(0, 0));
    }

    [BackendFact]
    public void LargerBatchAfterSmallerOneIsStillCorrect()
    {
        var shape = TestData.Softmax;
        var data = TestData.Data(shape, 200);
        var parameters = TestData.Parameters(shape);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(parameters);
        GradientOf(kernel, 0, 3, gradient);

        double loss = GradientOf(kernel, 10, 190, gradient);

        var expected = Reference(shape, parameters, data, 10, 190);
        TestData.AssertClose(expected.Loss, loss, 1e-5, "loss");
        TestData.AssertClose(expected.Gradient, gradient, 1e-4, "gradient");
    }

    [BackendFact]
    public void LossIsFiniteForExtremeLogits()
    {
        var shape = TestData.Softmax;
        var data = TestData.Data(shape, Rows);
        using var kernel = Kernel(shape, data);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(TestData.Parameters(shape, bound: 300));

        double loss = GradientOf(kernel, 0, Rows, gradient);

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
        Assert.Throws<InvalidOperationException>(() => kernel.AddGradient(0, 1));
        Assert.Throws<InvalidOperationException>(() => kernel.ComputeAndDiscardGradient(0, 1));
        Assert.Throws<InvalidOperationException>(() => kernel.Evaluate(0, 1));

        var parameters = new float[shape.ParameterCount];
        Assert.Throws<ArgumentException>(() => kernel.LoadParameters(parameters.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => kernel.LoadParameters(new float[shape.ParameterCount + 1]));
        kernel.LoadParameters(parameters);
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Evaluate(2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.AddGradient(-1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.ComputeAndDiscardGradient(4, 1));
        Assert.Throws<ArgumentException>(() => kernel.ReadGradient(new float[3]));
        Assert.Throws<ArgumentException>(() => kernel.ReadGradient(new float[shape.ParameterCount + 1]));
    }
}

public sealed class SimdGradientKernelTests(SimdBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuGradientKernelTests(IlgpuCpuBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaGradientKernelTests(CudaBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLGradientKernelTests(OpenCLBackendFixture fixture) : GradientKernelTests(fixture), IClassFixture<OpenCLBackendFixture>;
