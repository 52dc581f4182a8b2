using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class TrainTestSplitTests
{
    [Fact]
    public void SplitsIntoDisjointSetsCoveringAllRows()
    {
        Dataset data = TestData.Indexed(101, classes: 3);

        var (train, test) = TrainTestSplit.Split(data, 0.2, seed: 5);

        Assert.Equal(20, test.Rows);
        Assert.Equal(81, train.Rows);
        int[] trainRows = TestData.OriginalRows(train), testRows = TestData.OriginalRows(test);
        Assert.Empty(trainRows.Intersect(testRows));
        Assert.Equal(Enumerable.Range(0, 101), trainRows.Concat(testRows).Order());
        Assert.Equal("indexed/train", train.Name);
        Assert.Equal("indexed/test", test.Name);
        // Labels travel with their rows.
        Assert.All(Enumerable.Range(0, train.Rows), i => Assert.Equal(trainRows[i] % 3, train.Labels[i]));
    }

    [Fact]
    public void IsDeterministicPerSeedAndShuffled()
    {
        Dataset data = TestData.Indexed(200);

        int[] first = TestData.OriginalRows(TrainTestSplit.Split(data, 0.25, seed: 11).Train);
        int[] again = TestData.OriginalRows(TrainTestSplit.Split(data, 0.25, seed: 11).Train);
        int[] other = TestData.OriginalRows(TrainTestSplit.Split(data, 0.25, seed: 12).Train);

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.NotEqual(first.Order(), first);
    }

    [Fact]
    public void IsStratified()
    {
        Dataset digits = DatasetCatalog.Load("digits", 0);

        var (_, test) = TrainTestSplit.Split(digits, 0.2, seed: 3);

        for (int c = 0; c < digits.ClassCount; c++)
        {
            double expected = digits.Labels.Count(l => l == c) * 0.2;
            Assert.InRange(test.Labels.Count(l => l == c), expected - 1, expected + 1);
        }
    }

    [Fact]
    public void KeepsAtLeastOneRowOnEachSide()
    {
        var (train, test) = TrainTestSplit.Split(TestData.Indexed(4), 0.01, seed: 0);

        Assert.Equal(1, test.Rows);
        Assert.Equal(3, train.Rows);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void RejectsFractionsOutsideTheOpenUnitInterval(double fraction)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TrainTestSplit.Split(TestData.Indexed(10), fraction, 0));

        Assert.Contains("strictly between 0 and 1", e.Message);
    }
}
