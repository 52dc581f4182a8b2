using System.Text.Json;
using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

public class GradientCodeFactoryTests
{
    [Theory]
    [InlineData("fractional", 6, 2, typeof(FractionalRepetitionCode))]
    [InlineData("CYCLIC", 6, 2, typeof(CyclicRepetitionCode))]
    [InlineData("uncoded", 5, 0, typeof(UncodedAssignment))]
    [InlineData("auto", 6, 2, typeof(FractionalRepetitionCode))]
    [InlineData("auto", 7, 2, typeof(CyclicRepetitionCode))]
    public void CreatesByName(string name, int n, int s, Type expected) =>
        Assert.IsType(expected, GradientCodeFactory.Create(name, n, s));

    [Theory]
    [InlineData("cyclic", 0, 0, "Number of workers n must be in 1..64")]
    [InlineData("cyclic", 65, 0, "Number of workers n must be in 1..64")]
    [InlineData("cyclic", 4, -1, "0 ≤ s < n = 4")]
    [InlineData("auto", 4, 4, "0 ≤ s < n = 4")]
    [InlineData("fractional", 7, 2, "s+1 = 3 does not divide n = 7")]
    [InlineData("uncoded", 4, 1, "tolerates no stragglers")]
    [InlineData("reed-solomon", 4, 1, "Unknown gradient code")]
    public void RejectsInvalidArgumentsWithClearMessages(string name, int n, int s, string expected)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => GradientCodeFactory.Create(name, n, s));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void DescriptionSerialisesAssignmentMatrixAndConditioning()
    {
        var code = GradientCodeFactory.Create("cyclic", 5, 2);
        var json = CodeDescription.From(code, CodeConditioning.Analyze(code, seed: 3)).ToJson();
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("cyclic", root.GetProperty("name").GetString());
        Assert.Equal(3, root.GetProperty("min_responders").GetInt32());
        Assert.Equal([1, 2, 3], root.GetProperty("assignment")[1].EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(code[4, 0], root.GetProperty("b")[4][0].GetDouble());
        var conditioning = root.GetProperty("conditioning");
        Assert.Equal(10, conditioning.GetProperty("subsets_evaluated").GetInt32());
        Assert.True(conditioning.GetProperty("worst_float32_relative_error").GetDouble() < 1e-5);
    }

    [Fact]
    public void DescriptionIsIndentedSnakeCaseJsonOfAGivenCodeAndReport()
    {
        var code = new FractionalRepetitionCode(2, 1);
        var report = CodeConditioning.Analyze(code, seed: 3);

        var json = CodeDescription.From(code, report).ToJson();

        Assert.Contains("\n  \"min_responders\": 1,", json.ReplaceLineEndings("\n"));
        Assert.Throws<ArgumentNullException>(() => CodeDescription.From(null!, report));
        Assert.Throws<ArgumentNullException>(() => CodeDescription.From(code, null!));
    }

    [Fact]
    public void TheNamesAreListedInTheUnknownNameRefusal()
    {
        Assert.Equal(["fractional", "cyclic", "uncoded", "auto", "hetero", "hetero-optimal"], GradientCodeFactory.Names);
        var error = Assert.Throws<ArgumentException>(() => GradientCodeFactory.Create("lt", 4, 1));
        Assert.Contains("expected one of: fractional, cyclic, uncoded, auto, hetero, hetero-optimal.", error.Message);
        Assert.Throws<ArgumentNullException>(() => GradientCodeFactory.Create(null!, 4, 1));
    }

    /// <summary>n and s are checked before the speeds: a bad n is an out-of-range n, not a speed count mismatch.</summary>
    [Fact]
    public void WorkerAndStragglerCountsAreCheckedFirst() =>
        Assert.Equal("workers", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCodeFactory.Create("hetero", 0, 0, [1.0])).ParamName);

    [Theory]
    [InlineData("hetero", 1)]
    [InlineData("hetero-optimal", 1)]
    public void TheHeterogeneousCodesAreBuiltForTheGivenSpeeds(string name, int s)
    {
        double[] speeds = [1, 2, 4, 1];
        var given = GradientCodeFactory.Create(name, 4, s, speeds);
        var equal = GradientCodeFactory.Create(name, 4, s);

        IGradientCode expected = name == "hetero" ? new HeterogeneousRepetitionCode(speeds, s) : new OptimalHeterogeneousCode(speeds, s);
        Assert.Equal(expected.Construction, given.Construction);
        Assert.NotEqual(equal.Construction, given.Construction);
    }
}
