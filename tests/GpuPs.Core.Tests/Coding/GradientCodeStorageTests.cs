using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>What every code built on <see cref="GradientCode"/> stores and refuses: B copied, its support as the
/// assignment, the partitions' sizes, and the bounds on n, s and k.</summary>
public class GradientCodeStorageTests
{
    [Fact]
    public void BIsCopiedAndItsNonzeroEntriesAreTheAssignment()
    {
        var b = new double[,] { { 1, 0 }, { 0.5, -2 }, { 0, 3 } };
        var code = new HandMadeCode(b, stragglers: 1);
        b[0, 0] = 7;

        Assert.Equal(("hand-made", "test matrix"), (code.Name, code.Construction));
        Assert.Equal((3, 2, 1, 2), (code.Workers, code.Partitions, code.Stragglers, code.MinResponders));
        Assert.Equal([1.0, 0, 0.5, -2, 0, 3], Enumerable.Range(0, 6).Select(e => code[e / 2, e % 2]));
        Assert.Equal([[0], [0, 1], [1]], Enumerable.Range(0, 3).Select(i => code.PartitionsOf(i).ToArray()));
        Assert.Equal([true, false, true, true, false, true], Enumerable.Range(0, 6).Select(e => code.IsAssigned(e / 2, e % 2)));
    }

    [Fact]
    public void PartitionsAreEqualUnlessSizesAreGivenWhichAreCopied()
    {
        Assert.Equal([1.0, 1.0, 1.0], new HandMadeCode(new double[2, 3]).PartitionWeights);
        double[] sizes = [1, 2.5, 1e-300];
        var code = new HandMadeCode(new double[2, 3], partitionWeights: sizes);
        sizes[0] = 9;
        Assert.Equal([1, 2.5, 1e-300], code.PartitionWeights);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void BNeedsOneTo64PartitionColumns(int k)
    {
        var error = Assert.Throws<ArgumentException>(() => new HandMadeCode(new double[2, k]));
        Assert.Equal("b", error.ParamName);
        Assert.StartsWith($"B must have 1..64 partition columns, got {k}.", error.Message);
        Assert.Equal(64, new HandMadeCode(new double[2, 64]).Partitions);
        Assert.Equal(1, new HandMadeCode(new double[2, 1]).Partitions);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void PartitionSizesMustBeFiniteAndPositive(double bad)
    {
        var error = Assert.Throws<ArgumentException>(() => new HandMadeCode(new double[2, 2], partitionWeights: [1, bad]));
        Assert.Equal("partitionWeights", error.ParamName);
        Assert.StartsWith($"need 2 finite positive partition weights, got [1, {bad}].", error.Message);
    }

    [Fact]
    public void PartitionSizesMustBeOnePerColumn()
    {
        var error = Assert.Throws<ArgumentException>(() => new HandMadeCode(new double[2, 2], partitionWeights: [1, 1, 1]));
        Assert.Equal("partitionWeights", error.ParamName);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(64, 63)]
    [InlineData(64, 0)]
    public void OneTo64WorkersAndFewerStragglersAreValid(int n, int s) => GradientCode.Validate(n, s);

    [Theory]
    [InlineData(0, 0, "workers", "Number of workers n must be in 1..64.")]
    [InlineData(65, 0, "workers", "Number of workers n must be in 1..64.")]
    [InlineData(4, -1, "stragglers", "Number of stragglers s must satisfy 0 ≤ s < n = 4.")]
    [InlineData(4, 4, "stragglers", "Number of stragglers s must satisfy 0 ≤ s < n = 4.")]
    public void WorkersOutside1To64OrStragglersOutside0ToNMinus1AreRefused(int n, int s, string argument, string message)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => GradientCode.Validate(n, s));
        Assert.Equal(argument, error.ParamName);
        Assert.StartsWith(message, error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HandMadeCode(new double[Math.Max(n, 0), 2], s));
    }
}
