using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class EmbeddedDatasetTests
{
    [Fact]
    public void DigitsIs1797By64WithTenClasses()
    {
        Dataset digits = DatasetCatalog.Load("digits", seed: 0);

        Assert.Equal(1797, digits.Rows);
        Assert.Equal(64, digits.FeatureCount);
        Assert.Equal(10, digits.ClassCount);
        Assert.Equal(Enumerable.Range(0, 10).Select(c => (double)c), digits.LabelValues);
        Assert.All(digits.Features, v => Assert.InRange(v, 0f, 16f));
        Assert.Equal(10, digits.Labels.Distinct().Count());
        Assert.Equal(0, digits.Labels[0]);
    }

    [Fact]
    public void BreastCancerIs569By30WithNamedClasses()
    {
        Dataset cancer = DatasetCatalog.Load("breast-cancer", seed: 0);

        Assert.Equal(569, cancer.Rows);
        Assert.Equal(30, cancer.FeatureCount);
        Assert.Equal(2, cancer.ClassCount);
        Assert.Equal(new[] { "malignant", "benign" }, cancer.ClassNames);
        Assert.Equal(212, cancer.Labels.Count(l => l == 0));
        Assert.Equal(17.99f, cancer.Row(0)[0]);
    }
}
