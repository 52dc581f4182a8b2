using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class FeatureScalerTests
{
    [Fact]
    public void StandardisesTrainingFeatures()
    {
        var (train, _) = TrainTestSplit.Split(DatasetCatalog.Load("breast-cancer", 0), 0.2, seed: 1);

        FeatureScaler.Fit(train).Apply(train);

        for (int j = 0; j < train.FeatureCount; j++)
        {
            double[] column = Enumerable.Range(0, train.Rows).Select(i => (double)train.Row(i)[j]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Average(x => (x - mean) * (x - mean)));
            Assert.Equal(0, mean, 4);
            Assert.Equal(1, std, 4);
        }
    }

    [Fact]
    public void UsesTrainingStatisticsForOtherData()
    {
        var train = new Dataset("train", [0, 5, 2, 5, 4, 5], [0, 1, 0], featureCount: 2, classCount: 2);
        var test = new Dataset("test", [6, 5], [1], featureCount: 2, classCount: 2);

        FeatureScaler scaler = FeatureScaler.Fit(train);
        scaler.Apply(test);

        Assert.Equal(new float[] { 2, 5 }, scaler.Mean);
        // Constant feature: std 1, so it becomes 0 instead of dividing by zero.
        Assert.Equal(1f, scaler.Std[1]);
        Assert.Equal(4 / MathF.Sqrt(8f / 3), test.Features[0], 5);
        Assert.Equal(0f, test.Features[1]);
    }

    [Fact]
    public void RejectsMismatchedFeatureCounts()
    {
        FeatureScaler scaler = FeatureScaler.Fit(TestData.Indexed(5));
        var other = new Dataset("other", [1, 2, 3], [0], featureCount: 3, classCount: 1);

        Assert.Throws<ArgumentException>(() => scaler.Apply(other));
    }
}
