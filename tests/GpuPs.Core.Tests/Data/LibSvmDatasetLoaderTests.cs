using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public sealed class LibSvmDatasetLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DensifiesSparseRowsToTheLargestIndex()
    {
        string path = _dir.Write("x.libsvm", "# a comment line\n+1 1:0.5 4:2\n-1 2:-1e0   # trailing comment\n\n-1\n");

        Dataset data = LibSvmDatasetLoader.Load(path);

        Assert.Equal("x", data.Name);
        Assert.Equal(3, data.Rows);
        Assert.Equal(4, data.FeatureCount);
        Assert.Equal(new float[] { 0.5f, 0, 0, 2, 0, -1, 0, 0, 0, 0, 0, 0 }, data.Features);
        Assert.Equal(new[] { 1, 0, 0 }, data.Labels);
        Assert.Equal(new double[] { -1, 1 }, data.LabelValues);
    }

    [Fact]
    public void DensifiesToAGivenFeatureCount()
    {
        string path = _dir.Write("x.svm", "1 1:1\n2 2:1\n3 1:3\n");

        Dataset data = LibSvmDatasetLoader.Load(path, featureCount: 5);

        Assert.Equal(5, data.FeatureCount);
        Assert.Equal(3, data.ClassCount);
        Assert.Equal(new[] { 0, 1, 2 }, data.Labels);
        Assert.Equal(15, data.Features.Length);
    }

    [Fact]
    public void ReadsGzipTransparently()
    {
        string path = _dir.Write("x.libsvm.gz", "0 1:1 3:3\n1 2:2\n");

        Dataset data = LibSvmDatasetLoader.Load(path);

        Assert.Equal(new float[] { 1, 0, 3, 0, 2, 0 }, data.Features);
    }

    [Theory]
    [InlineData("1 1:1\n0 2:2\n1 abc:1\n", 3, "bad feature 'abc:1' (expected index:value)")]
    [InlineData("1 1:1\n0 2:2 7\n", 2, "bad feature '7' (expected index:value)")]
    [InlineData("1 0:1\n0 2:2\n", 1, "bad feature '0:1': feature indices are 1-based")]
    [InlineData("1 3:1 2:1\n0 2:2\n", 1, "bad feature '2:1': indices must increase along a line (previous index 3)")]
    [InlineData("1 2:1 2:1\n0 2:2\n", 1, "indices must increase along a line")]
    [InlineData("1 1:1\n0 2:nan\n", 2, "value of feature 2 'nan' is not a finite")]
    [InlineData("1 1:1\n0 2:-Infinity\n", 2, "value of feature 2 '-Infinity' is not a finite")]
    [InlineData("1 1:1\n0 2:\n", 2, "missing value of feature 2")]
    [InlineData("1 1:1\n1,2 2:1\n", 2, "label '1,2' is not a number")]
    public void MalformedLinesNameFileAndLine(string content, int line, string problem)
    {
        string path = _dir.Write("bad.libsvm", content);

        var e = Assert.Throws<DataFormatException>(() => LibSvmDatasetLoader.Load(path));

        Assert.StartsWith($"{path} line {line}: ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal(line, e.Line);
    }

    [Fact]
    public void IndexBeyondTheGivenFeatureCountIsAnError()
    {
        string path = _dir.Write("bad.libsvm", "1 1:1\n0 6:1\n");

        var e = Assert.Throws<DataFormatException>(() => LibSvmDatasetLoader.Load(path, featureCount: 5));

        Assert.Equal($"{path} line 2: bad feature '6:1': index exceeds the feature count 5", e.Message);
    }

    [Theory]
    [InlineData("# only a comment\n", "empty file (no data rows)")]
    [InlineData("1\n0\n", "no row has any feature value")]
    [InlineData("1 1:1\n1 2:1\n", "every row has label 1; classification needs at least two classes")]
    public void WholeFileProblemsNameTheFile(string content, string problem)
    {
        string path = _dir.Write("bad.libsvm", content);

        var e = Assert.Throws<DataFormatException>(() => LibSvmDatasetLoader.Load(path));

        Assert.Equal($"{path}: {problem}", e.Message);
    }

    [Fact]
    public void MissingFileIsFileNotFoundNamingThePath()
    {
        string path = System.IO.Path.Combine(_dir.Path, "absent.libsvm");

        var e = Assert.Throws<FileNotFoundException>(() => LibSvmDatasetLoader.Load(path));

        Assert.Contains(path, e.Message);
    }
}
