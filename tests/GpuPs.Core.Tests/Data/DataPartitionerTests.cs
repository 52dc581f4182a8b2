using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class DataPartitionerTests
{
    [Theory]
    [InlineData(10, 3)]
    [InlineData(1437, 8)]
    [InlineData(5, 5)]
    [InlineData(7, 1)]
    public void EqualPartitionsCoverEveryRowOnceAndDifferByAtMostOne(int rows, int parts)
    {
        RowRange[] ranges = DataPartitioner.Partition(rows, parts);

        Assert.Equal(parts, ranges.Length);
        AssertContiguousCover(ranges, rows);
        Assert.InRange(ranges.Max(r => r.Count) - ranges.Min(r => r.Count), 0, 1);
    }

    [Fact]
    public void WeightedPartitionsFollowTheWeights()
    {
        RowRange[] ranges = DataPartitioner.Partition(1000, [1.0, 2.0, 3.0, 4.0]);

        AssertContiguousCover(ranges, 1000);
        Assert.Equal(new[] { 100, 200, 300, 400 }, ranges.Select(r => r.Count));
    }

    [Fact]
    public void WeightedPartitionsStayWithinOneRowOfTheirShare()
    {
        double[] weights = [0.7, 1.3, 2.9, 0.35, 1.0];
        RowRange[] ranges = DataPartitioner.Partition(997, weights);

        AssertContiguousCover(ranges, 997);
        for (int i = 0; i < weights.Length; i++)
            Assert.InRange(ranges[i].Count, 997 * weights[i] / weights.Sum() - 1, 997 * weights[i] / weights.Sum() + 1);
    }

    [Fact]
    public void EveryWeightedPartGetsARow()
    {
        RowRange[] ranges = DataPartitioner.Partition(4, [1000.0, 0.001, 0.001, 1000.0]);

        AssertContiguousCover(ranges, 4);
        Assert.All(ranges, r => Assert.True(r.Count >= 1));
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(10, 0)]
    [InlineData(10, -1)]
    public void RejectsImpossiblePartitionCounts(int rows, int parts)
    {
        Assert.Throws<ArgumentException>(() => DataPartitioner.Partition(rows, parts));
    }

    [Fact]
    public void RejectsBadWeights()
    {
        Assert.Throws<ArgumentException>(() => DataPartitioner.Partition(10, [1.0, 0.0]));
        Assert.Throws<ArgumentException>(() => DataPartitioner.Partition(10, [1.0, double.NaN]));
        Assert.Throws<ArgumentException>(() => DataPartitioner.Partition(10, Array.Empty<double>()));
    }

    private static void AssertContiguousCover(RowRange[] ranges, int rows)
    {
        int next = 0;
        foreach (RowRange r in ranges)
        {
            Assert.Equal(next, r.Start);
            next = r.End;
        }
        Assert.Equal(rows, next);
    }
}
