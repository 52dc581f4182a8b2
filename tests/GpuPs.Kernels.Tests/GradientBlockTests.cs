using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// The blocked MLP gradient (<see cref="IGradientKernel.AddBlockRows"/>, <see cref="IGradientKernel.ReadGradientBlock"/>,
/// the wavefront's kernel side), run once per backend by the subclasses below: the blocks, read in any order and cut
/// across hidden units and the layer boundaries, assemble the gradient <see cref="IGradientKernel.AddGradient"/> gives, to
/// float rounding; the loss is the same; the bound holds; wrong calls are refused.
/// </summary>
public abstract class GradientBlockTests(BackendFixture fixture)
{
    private const int Rows = 37;
    private static readonly ModelShape Shape = TestData.Mlp;   // 7 features, 5 hidden, 4 classes: 64 parameters

    private IGradientKernel Kernel(TestData.DataSet data)
    {
        var kernel = fixture.Backend.CreateGradientKernel(Shape);
        kernel.SetData(data.Features, data.Labels);
        return kernel;
    }

    /// <summary>scale · the gradient over <paramref name="ranges"/> by <see cref="IGradientKernel.AddGradient"/>, and its loss.</summary>
    private static (float[] Gradient, double Loss) Whole(IGradientKernel kernel, float[] parameters, (int Start, int Count)[] ranges, float scale)
    {
        kernel.LoadParameters(parameters);
        double loss = ranges.Sum(r => kernel.AddGradient(r.Start, r.Count, scale));
        var gradient = new float[Shape.ParameterCount];
        kernel.ReadGradient(gradient);
        return (gradient, loss);
    }

    /// <summary>
    /// The same gradient assembled from blocks of <paramref name="blockLength"/> keys, in key order (the wavefront's), or
    /// last block first; the kernel's scratch holds the blocks of another step (other parameters) before, so a block that
    /// computes too little shows.
    /// </summary>
    private static (float[] Gradient, BlockRows Rows) Blocked(IGradientKernel kernel, float[] parameters, (int Start, int Count)[] ranges, float scale, int blockLength,
        bool reverse = false)
    {
        var gradient = new float[Shape.ParameterCount];
        BlockRows rows = default;
        foreach (var step in new[] { TestData.Parameters(Shape, seed: 77), parameters })
        {
            kernel.LoadParameters(step);
            rows = ranges.Aggregate(new BlockRows(0, 0), (sum, r) => sum + kernel.AddBlockRows(r.Start, r.Count));
            var starts = Enumerable.Range(0, (Shape.ParameterCount + blockLength - 1) / blockLength).Select(b => b * blockLength);
            foreach (int start in reverse ? starts.Reverse() : starts)
                kernel.ReadGradientBlock(start, gradient.AsSpan(start, Math.Min(blockLength, Shape.ParameterCount - start)), scale);
        }
        return (gradient, rows);
    }

    [BackendTheory]
    [InlineData(1, false)]    // one key at a time
    [InlineData(5, false)]    // blocks that start and end inside a hidden unit's row of W1 (7 keys)
    [InlineData(5, true)]
    [InlineData(13, false)]   // blocks across W1's end and the tail's layers (W1 ends at 35, b1 at 40, W2 at 60)
    [InlineData(13, true)]
    [InlineData(64, false)]   // the whole vector in one block
    public void BlocksAssembleTheGradientOfAddGradient(int blockLength, bool reverse)
    {
        var data = TestData.Data(Shape, Rows);
        var parameters = TestData.Parameters(Shape);
        using var whole = Kernel(data);
        using var kernel = Kernel(data);
        (int, int)[] batch = [(3, 30)];

        var (expected, loss) = Whole(whole, parameters, batch, 0.5f);
        var (blocked, rows) = Blocked(kernel, parameters, batch, 0.5f, blockLength, reverse);

        TestData.AssertClose(expected, blocked, 1e-5, "blocked gradient");
        TestData.AssertClose(loss, rows.LossSum, 1e-6, "loss");
        Assert.True(expected.Max(MathF.Abs) > 0.01f, "a gradient worth comparing");
    }

    [BackendFact]
    public void BlocksOfAWrappedBatchAddBothRanges()
    {
        var data = TestData.Data(Shape, Rows);
        var parameters = TestData.Parameters(Shape, seed: 5);
        using var whole = Kernel(data);
        using var kernel = Kernel(data);
        (int, int)[] wrapped = [(30, 7), (0, 9)];   // a batch of 16 that wraps around the end of the rows

        var (expected, loss) = Whole(whole, parameters, wrapped, 2f);
        var (blocked, rows) = Blocked(kernel, parameters, wrapped, 2f, 11);

        TestData.AssertClose(expected, blocked, 1e-5, "blocked gradient");
        TestData.AssertClose(loss, rows.LossSum, 1e-6, "loss");
    }

    [BackendFact]
    public void BoundHoldsForEveryValue()
    {
        var data = TestData.Data(Shape, Rows);
        var parameters = TestData.Parameters(Shape, seed: 9, bound: 3);
        using var kernel = Kernel(data);
        (int, int)[] batch = [(0, Rows)];

        var (gradient, rows) = Blocked(kernel, parameters, batch, 1f, 64);

        Assert.True(double.IsFinite(rows.GradientBound));
        Assert.True(gradient.Max(MathF.Abs) <= rows.GradientBound, $"max |g| {gradient.Max(MathF.Abs)} above the bound {rows.GradientBound}");
    }

    [BackendFact]
    public void NonFiniteParametersGiveANonFiniteBound()
    {
        var data = TestData.Data(Shape, Rows);
        var parameters = TestData.Parameters(Shape);
        parameters[Shape.Hidden * Shape.Features + Shape.Hidden + 3] = float.NaN;   // one weight of W2
        using var kernel = Kernel(data);
        kernel.LoadParameters(parameters);

        Assert.False(double.IsFinite(kernel.AddBlockRows(0, 4).GradientBound));
    }

    [BackendFact]
    public void WrongCallsAreRefused()
    {
        var data = TestData.Data(Shape, Rows);
        using var kernel = Kernel(data);
        Assert.True(kernel.ComputesBlocks);
        Assert.Throws<InvalidOperationException>(() => kernel.AddBlockRows(0, 1));   // no parameters
        kernel.LoadParameters(TestData.Parameters(Shape));
        Assert.Throws<InvalidOperationException>(() => kernel.ReadGradientBlock(0, new float[4], 1f));   // no rows
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.AddBlockRows(30, 8));
        kernel.AddBlockRows(0, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.ReadGradientBlock(60, new float[5], 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.ReadGradientBlock(-1, new float[2], 1f));
        kernel.LoadParameters(TestData.Parameters(Shape));
        Assert.Throws<InvalidOperationException>(() => kernel.ReadGradientBlock(0, new float[4], 1f));   // a new step has no rows yet

        using var softmax = fixture.Backend.CreateGradientKernel(TestData.Softmax);
        Assert.False(softmax.ComputesBlocks);
        Assert.Throws<NotSupportedException>(() => softmax.AddBlockRows(0, 1));
    }
}

public sealed class SimdGradientBlockTests(SimdBackendFixture fixture) : GradientBlockTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuGradientBlockTests(IlgpuCpuBackendFixture fixture) : GradientBlockTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaGradientBlockTests(CudaBackendFixture fixture) : GradientBlockTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLGradientBlockTests(OpenCLBackendFixture fixture) : GradientBlockTests(fixture), IClassFixture<OpenCLBackendFixture>;
