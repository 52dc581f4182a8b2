using GpuPs.Core.Data;
using GpuPs.Kernels;
using GpuPs.Kernels.Tests;

namespace GpuPs.Tests.Shared;

/// <summary>
/// What a full-batch run must end at, computed independently of the code under test: T steps of
/// p ← p − lr · (Σ_rows ∇loss) / rows on the whole training set, in float64, with the scalar <see cref="ReferenceModel"/>
/// (no SIMD kernel, no partitioning, no codes, no server). Linked into every test project that checks a whole run.
/// </summary>
public static class FullBatchDescent
{
    public static double[] Descend(PreparedData data, ModelShape shape, ulong seed, long steps, double learningRate)
    {
        var p = ModelInitializer.Initialize(shape, seed).Select(v => (double)v).ToArray();
        for (long t = 0; t < steps; t++)
        {
            var g = ReferenceModel.Compute(shape, p, data.Train.Features, data.Train.Labels, 0, data.Train.Rows).Gradient;
            for (int i = 0; i < p.Length; i++) p[i] -= learningRate * g[i] / data.Train.Rows;
        }
        return p;
    }

    /// <summary>Every parameter within <paramref name="tolerance"/> (absolute plus relative) of the reference.</summary>
    public static void AssertClose(double[] expected, IReadOnlyList<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance + tolerance * Math.Abs(expected[i]),
                $"parameter {i}: reference {expected[i]:G9}, got {actual[i]:G9}");
    }
}
