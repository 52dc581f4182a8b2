using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public sealed class DatasetCatalogTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("digits")]
    [InlineData("breast-cancer")]
    [InlineData("synthetic")]
    [InlineData("synthetic:rows=120, features=7,classes=3")]
    public void DescribeGivesTheShapeThatLoadingGives(string spec)
    {
        Dataset data = DatasetCatalog.Load(spec, seed: 3);

        Assert.Equal(new DatasetShape(data.Rows, data.FeatureCount, data.ClassCount), DatasetCatalog.Describe(spec));
    }

    [Fact]
    public void DescribeReadsAFileDataSet()
    {
        string path = _dir.Write("three.csv", "1,2,0\n3,4,1\n5,6,2\n");

        Assert.Equal(new DatasetShape(3, 2, 3), DatasetCatalog.Describe(path));
    }

    [Fact]
    public void DescribeRefusesWhatLoadRefuses()
    {
        Assert.Throws<ArgumentException>(() => DatasetCatalog.Describe("synthetic:rows=2,classes=3"));
        Assert.Throws<ArgumentException>(() => DatasetCatalog.Describe("imagenet"));
        Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Describe("csv:/no/such/file.csv"));
    }

    [Fact]
    public void SyntheticSpecUsesParametersAndSeed()
    {
        Dataset data = DatasetCatalog.Load("synthetic:rows=120, features=7,classes=3,separation=2.5", seed: 9);

        Assert.Equal(120, data.Rows);
        Assert.Equal(7, data.FeatureCount);
        Assert.Equal(3, data.ClassCount);
        Assert.Equal(SyntheticDataset.GaussianMixture(120, 7, 3, seed: 9, separation: 2.5).Features, data.Features);
    }

    [Fact]
    public void SyntheticSpecKeepsDefaultsForOmittedKeys()
    {
        Dataset data = DatasetCatalog.Load("synthetic:rows=50", seed: 1);

        Assert.Equal(50, data.Rows);
        Assert.Equal(SyntheticDataset.DefaultFeatures, data.FeatureCount);
        Assert.Equal(SyntheticDataset.DefaultClasses, data.ClassCount);
        Assert.Equal(5000, DatasetCatalog.Load("synthetic", seed: 1).Rows);
    }

    [Fact]
    public void LoadsFilesByPrefixOrExtension()
    {
        string csv = _dir.Write("a.csv.gz", "1,2,0\n3,4,1\n");
        string libsvm = _dir.Write("b.txt", "0 1:1\n1 3:1\n");
        string libsvmAsCsvName = _dir.Write("c.data", "0 1:1\n1 3:1\n");

        Assert.Equal(2, DatasetCatalog.Load(csv, 0).FeatureCount);
        Assert.Equal(2, DatasetCatalog.Load($"csv:{csv}", 0).FeatureCount);
        Assert.Equal(3, DatasetCatalog.Load(libsvm, 0).FeatureCount);
        Assert.Equal(3, DatasetCatalog.Load($"libsvm:{libsvmAsCsvName}", 0).FeatureCount);
    }

    [Theory]
    [InlineData("mnist")]
    [InlineData("")]
    [InlineData("data.parquet")]
    [InlineData("csv:")]
    public void UnknownSpecListsTheAcceptedForms(string spec)
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetCatalog.Load(spec, 0));

        Assert.Contains(DatasetCatalog.AcceptedForms, e.Message);
    }

    [Theory]
    [InlineData("synthetic:rows=abc", "rows 'abc' is not an integer")]
    [InlineData("synthetic:depth=3", "bad parameter 'depth=3'")]
    [InlineData("synthetic:separation=far", "separation 'far' is not a number")]
    [InlineData("synthetic:classes=1", "at least two classes")]
    public void BadSyntheticParametersAreExplained(string spec, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetCatalog.Load(spec, 0));

        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        string path = System.IO.Path.Combine(_dir.Path, "nope.csv");

        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load($"csv:{path}", 0));

        Assert.Contains(path, e.Message);
    }
}
