using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class SyntheticDatasetTests
{
    [Fact]
    public void DefaultsTo5000By100TwoClassesBalanced()
    {
        Dataset data = SyntheticDataset.GaussianMixture(seed: 1);

        Assert.Equal(5000, data.Rows);
        Assert.Equal(100, data.FeatureCount);
        Assert.Equal(2, data.ClassCount);
        Assert.Equal(2500, data.Labels.Count(l => l == 1));
        Assert.All(data.Features, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void IsReproducibleForASeedAndDiffersForAnother()
    {
        Dataset a = SyntheticDataset.GaussianMixture(300, 20, 3, seed: 42, separation: 2);
        Dataset b = SyntheticDataset.GaussianMixture(300, 20, 3, seed: 42, separation: 2);
        Dataset c = SyntheticDataset.GaussianMixture(300, 20, 3, seed: 43, separation: 2);

        Assert.Equal(a.Features, b.Features);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Features, c.Features);
    }

    [Fact]
    public void TwoClassCentresAreSeparationFromTheOrigin()
    {
        const double separation = 1.5;
        Dataset data = SyntheticDataset.GaussianMixture(20000, 10, 2, seed: 7, separation: separation);

        double[] mean0 = ClassMean(data, 0), mean1 = ClassMean(data, 1);

        // Antipodal centres ±μ with |μ| = separation, estimated from 10000 rows per class.
        Assert.Equal(separation, Norm(mean0), 1);
        Assert.Equal(separation, Norm(mean1), 1);
        Assert.Equal(2 * separation, Norm(mean0.Zip(mean1, (x, y) => x - y).ToArray()), 1);
    }

    [Theory]
    [InlineData(0, 10, 2, 1.0)]
    [InlineData(10, 0, 2, 1.0)]
    [InlineData(10, 10, 1, 1.0)]
    [InlineData(3, 10, 4, 1.0)]
    [InlineData(10, 10, 2, -1.0)]
    [InlineData(10, 10, 2, double.NaN)]
    public void RejectsImpossibleParameters(int rows, int features, int classes, double separation)
    {
        Assert.Throws<ArgumentException>(() => SyntheticDataset.GaussianMixture(rows, features, classes, seed: 0, separation));
    }

    private static double[] ClassMean(Dataset data, int label)
    {
        var mean = new double[data.FeatureCount];
        int count = 0;
        for (int i = 0; i < data.Rows; i++)
        {
            if (data.Labels[i] != label) continue;
            count++;
            ReadOnlySpan<float> row = data.Row(i);
            for (int j = 0; j < mean.Length; j++) mean[j] += row[j];
        }
        return mean.Select(s => s / count).ToArray();
    }

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}
