using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Kernels;
using GpuPs.Kernels.Tests;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// What a full-batch run must end at, computed independently of the code under test: T steps of
/// p ← p − lr · (Σ_rows ∇loss) / rows on the whole training set, in float64, with the scalar <see cref="ReferenceModel"/>
/// (no SIMD kernel, no partitioning, no codes, no server).
/// </summary>
public static class FullBatchReference
{
    public static double[] Descend(TrainSettings s)
    {
        var data = PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed);
        var shape = new ModelShape(s.Model, data.FeatureCount, data.ClassCount);
        var p = ModelInitializer.Initialize(shape, s.Seed).Select(v => (double)v).ToArray();
        for (int t = 0; t < s.Steps; t++)
        {
            var g = ReferenceModel.Compute(shape, p, data.Train.Features, data.Train.Labels, 0, data.Train.Rows).Gradient;
            for (int i = 0; i < p.Length; i++) p[i] -= s.LearningRate * g[i] / data.Train.Rows;
        }
        return p;
    }

    /// <summary>Training rows of the settings' data set (to check that partitions are unequal).</summary>
    public static int TrainRows(TrainSettings s) => PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed).Train.Rows;

    /// <summary>Every parameter within <paramref name="tolerance"/> (absolute plus relative) of the reference.</summary>
    public static void AssertClose(double[] expected, IReadOnlyList<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance + tolerance * Math.Abs(expected[i]),
                $"parameter {i}: reference {expected[i]:G9}, got {actual[i]:G9}");
    }
}
