using GpuPs.Core.Coding;
using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Kernels.Tests;

namespace GpuPs.Worker.Tests.Heterogeneity;

/// <summary>
/// The gradient a step applies under proportional and heterogeneity-aware assignments is the full-batch gradient: each
/// worker's partitions computed by the SIMD kernel as <see cref="StepComputation"/> does (Σ_h B[i,h] g_h in float32),
/// combined as the shard combines them (sum for BSP, decode weights for coded), divided by the step's rows, against the
/// float64 <see cref="ReferenceModel"/> over every training row.
/// </summary>
public class WeightedGradientTests
{
    private static readonly PreparedData Data = PreparedData.Prepare("synthetic:rows=1003,features=8,classes=3", 0.1, seed: 11);
    private static readonly ModelShape Shape = new(ModelKind.Softmax, 8, 3);

    private static double[] FullBatchMean()
    {
        var p = ModelInitializer.Initialize(Shape, 3).Select(v => (double)v).ToArray();
        var g = ReferenceModel.Compute(Shape, p, Data.Train.Features, Data.Train.Labels, 0, Data.Train.Rows).Gradient;
        return g.Select(v => v / Data.Train.Rows).ToArray();
    }

    /// <summary>What worker <paramref name="worker"/> pushes: Σ_h w_h g_h over its plan, and the plan's step rows.</summary>
    private static (float[] Message, long StepRows, long OwnRows) Push(IGradientCode code, int worker, bool coded)
    {
        var plan = new PartitionPlan(Data.Train, code, worker, batchSize: 0);
        using var kernel = new SimdBackend().CreateGradientKernel(Shape);
        kernel.SetData(plan.Data.Features, plan.Data.Labels);
        kernel.LoadParameters(ModelInitializer.Initialize(Shape, 3));
        long own = 0;
        for (int h = 0; h < plan.Held.Count; h++)
        foreach (var range in plan.Batch(h, 0))
        {
            kernel.AddGradient(range.Start, range.Count, coded ? plan.Weights[h] : 1f);
            own += range.Count;
        }
        var message = new float[Shape.ParameterCount];
        kernel.ReadGradient(message);
        return (message, plan.StepRows, own);
    }

    [Theory]
    [InlineData(new[] { 1.0, 2.0, 4.0 })]
    [InlineData(new[] { 1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 8.0, 8.0 })]
    public void ProportionalBspPushesSumToTheFullBatchGradient(double[] speeds)
    {
        var code = new UncodedAssignment(speeds);
        var pushes = Enumerable.Range(0, speeds.Length).Select(i => Push(code, i, coded: false)).ToArray();

        var sum = new double[Shape.ParameterCount];
        foreach (var p in pushes)
            for (int t = 0; t < sum.Length; t++) sum[t] += p.Message[t];
        long rows = pushes.Sum(p => p.OwnRows);

        Assert.Equal(Data.Train.Rows, rows);
        AssertClose(FullBatchMean(), sum.Select(v => v / rows).ToArray());
    }

    [Theory]
    [InlineData(new[] { 1.0, 2.0, 4.0 }, 1)]
    [InlineData(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, 2)]
    public void EveryTolerableResponderSetOfTheHeterogeneousCodeDecodesTheFullBatchGradient(double[] speeds, int s)
    {
        var code = new HeterogeneousRepetitionCode(speeds, s);
        var pushes = Enumerable.Range(0, speeds.Length).Select(i => Push(code, i, coded: true)).ToArray();
        var expected = FullBatchMean();

        foreach (ulong stragglers in ResponderSubsets.Enumerate(speeds.Length, s))
        {
            var responders = Enumerable.Range(0, speeds.Length).Where(i => (stragglers >> i & 1) == 0).ToArray();
            var decode = code.Decode(responders);
            Assert.True(decode.IsDecodable, decode.Reason);
            var sum = new double[Shape.ParameterCount];
            for (int r = 0; r < responders.Length; r++)
                for (int t = 0; t < sum.Length; t++) sum[t] += decode.Weights[r] * pushes[responders[r]].Message[t];
            Assert.Equal(Data.Train.Rows, pushes[responders[0]].StepRows);
            AssertClose(expected, sum.Select(v => v / Data.Train.Rows).ToArray());
        }
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"parameter {i}: reference {expected[i]:G9}, got {actual[i]:G9}");
    }
}
