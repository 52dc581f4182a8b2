using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public sealed class CsvDatasetLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ParsesRowsAndMapsLabelsBySortedValue()
    {
        string path = _dir.Write("small.csv", "1.5, 2,7\n-3e-1,4,3\n\n5,6,7\n");

        Dataset data = CsvDatasetLoader.Load(path);

        Assert.Equal("small", data.Name);
        Assert.Equal(3, data.Rows);
        Assert.Equal(2, data.FeatureCount);
        Assert.Equal(new float[] { 1.5f, 2, -0.3f, 4, 5, 6 }, data.Features);
        Assert.Equal(new[] { 1, 0, 1 }, data.Labels);
        Assert.Equal(new double[] { 3, 7 }, data.LabelValues);
    }

    [Fact]
    public void ReadsGzipTransparently()
    {
        string path = _dir.Write("small.csv.gz", "1,2,0\n3,4,1\n");

        Dataset data = CsvDatasetLoader.Load(path);

        Assert.Equal("small", data.Name);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, data.Features);
    }

    [Fact]
    public void SkipsANonNumericHeaderLine()
    {
        string path = _dir.Write("h.csv", "a,b,label\n1,2,0\n3,4,1\n");

        Dataset data = CsvDatasetLoader.Load(path);

        Assert.Equal(2, data.Rows);
        Assert.Equal(new[] { "0", "1" }, data.ClassNames);
    }

    [Fact]
    public void UsesTheSklearnHeaderForClassNames()
    {
        string path = _dir.Write("s.csv", "2,2,cat,dog\n1,2,0\n3,4,1\n");

        Dataset data = CsvDatasetLoader.Load(path);

        Assert.Equal(new[] { "cat", "dog" }, data.ClassNames);
    }

    [Fact]
    public void ChecksTheSklearnHeaderAgainstTheData()
    {
        string path = _dir.Write("s.csv", "3,2,cat,dog\n1,2,0\n3,4,1\n");

        var e = Assert.Throws<DataFormatException>(() => CsvDatasetLoader.Load(path));

        Assert.Equal(1, e.Line);
        Assert.Contains("header declares 3 rows x 2 features, the file has 2 rows x 2 features", e.Message);
    }

    [Fact]
    public void TakesTheLabelFromAChosenColumn()
    {
        string path = _dir.Write("first.csv", "0,1,2\n1,3,4\n");

        Dataset data = CsvDatasetLoader.Load(path, labelColumn: 0);

        Assert.Equal(new float[] { 1, 2, 3, 4 }, data.Features);
        Assert.Equal(new[] { 0, 1 }, data.Labels);
    }

    [Theory]
    [InlineData("1,2,0\n3,4,1\n5,6\n", 3, "expected 3 values, found 2")]
    [InlineData("1,2,0\n3,,1\n", 2, "missing value in column 2")]
    [InlineData("1,2,0\n3,x4,1\n", 2, "value in column 2 'x4' is not a number")]
    [InlineData("1,2,0\n3,NaN,1\n", 2, "value in column 2 'NaN' is not a finite")]
    [InlineData("1,2,0\n3,Infinity,1\n", 2, "value in column 2 'Infinity' is not a finite")]
    [InlineData("1,2,0\n3,1e39,1\n", 2, "value in column 2 '1e39' is not a finite")]
    [InlineData("1,2,0\n3,4,one\n", 2, "label in column 3 'one' is not a number")]
    [InlineData("x,y\n\n7\n", 3, "need at least one feature and a label per row, found 1 value(s)")]
    public void MalformedLinesNameFileAndLine(string content, int line, string problem)
    {
        string path = _dir.Write("bad.csv", content);

        var e = Assert.Throws<DataFormatException>(() => CsvDatasetLoader.Load(path));

        Assert.StartsWith($"{path} line {line}: ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal(line, e.Line);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Theory]
    [InlineData("", "empty file (no data rows)")]
    [InlineData("\n  \n", "empty file (no data rows)")]
    [InlineData("a,b,label\n", "a header line but no data rows")]
    [InlineData("1,2,5\n3,4,5\n", "every row has label 5; classification needs at least two classes")]
    public void WholeFileProblemsNameTheFile(string content, string problem)
    {
        string path = _dir.Write("bad.csv", content);

        var e = Assert.Throws<DataFormatException>(() => CsvDatasetLoader.Load(path));

        Assert.Equal($"{path}: {problem}", e.Message);
        Assert.Null(e.Line);
    }

    [Fact]
    public void CorruptGzipIsAFormatError()
    {
        string path = _dir.Write("plain.csv.gz", "1,2,0\n");
        File.WriteAllText(path, "this is not gzip");

        var e = Assert.Throws<DataFormatException>(() => CsvDatasetLoader.Load(path));

        Assert.Contains($"{path} line 1: not valid gzip data", e.Message);
    }

    [Fact]
    public void MissingFileIsFileNotFoundNamingThePath()
    {
        string path = System.IO.Path.Combine(_dir.Path, "absent.csv");

        var e = Assert.Throws<FileNotFoundException>(() => CsvDatasetLoader.Load(path));

        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Theory]
    [InlineData("5.1,3.5,setosa\n4.9,3.0,versicolor\n6.0,2.2,setosa\n")]
    [InlineData("length,width,species\n5.1,3.5,setosa\n4.9,3.0,versicolor\n6.0,2.2,setosa\n")]
    public void TextLabelsBecomeClassesNamedByThem(string content)
    {
        string path = _dir.Write("iris.csv", content);

        Dataset data = CsvDatasetLoader.Load(path);

        Assert.Equal(3, data.Rows);
        Assert.Equal(2, data.FeatureCount);
        Assert.Equal(["setosa", "versicolor"], data.ClassNames);
        Assert.Equal([0, 1, 0], data.Labels);
        Assert.Equal([4.9f, 3.0f], data.Row(1).ToArray());
    }

    [Fact]
    public void OneTextLabelIsRefusedByName()
    {
        string path = _dir.Write("one.csv", "1,2,spam\n3,4,spam\n");

        var e = Assert.Throws<DataFormatException>(() => CsvDatasetLoader.Load(path));

        Assert.Contains("every row has label 'spam'", e.Message);
    }
}
