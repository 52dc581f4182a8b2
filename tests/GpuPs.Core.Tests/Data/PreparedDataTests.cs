using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class PreparedDataTests
{
    [Fact]
    public void EveryProcessDerivesTheSameScaledSplit()
    {
        PreparedData a = PreparedData.Prepare("digits", 0.2, seed: 17);
        PreparedData b = PreparedData.Prepare("digits", 0.2, seed: 17);

        Assert.Equal(1438, a.Train.Rows);
        Assert.Equal(359, a.Test.Rows);
        Assert.Equal(64, a.FeatureCount);
        Assert.Equal(10, a.ClassCount);
        Assert.Equal(a.Train.Features, b.Train.Features);
        Assert.Equal(a.Test.Labels, b.Test.Labels);
        // Scaled with training statistics: every training column has mean ≈ 0.
        for (int j = 0; j < a.FeatureCount; j++)
            Assert.Equal(0, Enumerable.Range(0, a.Train.Rows).Average(i => a.Train.Row(i)[j]), 4);
    }

    [Fact]
    public void RejectsABadFractionBeforeLoading()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PreparedData.Prepare("csv:/does/not/exist.csv", 1.5, 0));
    }
}
