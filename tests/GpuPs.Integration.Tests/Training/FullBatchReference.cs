using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Kernels;
using GpuPs.Tests.Shared;

namespace GpuPs.Integration.Tests.Training;

/// <summary>The <see cref="FullBatchDescent"/> reference for a run's <see cref="TrainSettings"/>.</summary>
public static class FullBatchReference
{
    public static double[] Descend(TrainSettings s)
    {
        var data = PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed);
        return FullBatchDescent.Descend(data, new ModelShape(s.Model, data.FeatureCount, data.ClassCount), s.Seed, s.Steps, s.LearningRate);
    }

    /// <summary>Training rows of the settings' data set (to check that partitions are unequal).</summary>
    public static int TrainRows(TrainSettings s) => PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed).Train.Rows;

    public static void AssertClose(double[] expected, IReadOnlyList<float> actual, double tolerance) =>
        FullBatchDescent.AssertClose(expected, actual, tolerance);
}
