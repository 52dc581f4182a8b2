using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

public class ResponderSubsetsTests
{
    [Theory]
    [InlineData(5, 2, 10)]
    [InlineData(5, 3, 10)]
    [InlineData(7, 0, 1)]
    [InlineData(7, 7, 1)]
    [InlineData(32, 4, 35_960)]
    [InlineData(64, 4, 635_376)]
    [InlineData(64, 32, 1_832_624_140_942_590_534)]
    [InlineData(5, -1, 0)]
    [InlineData(5, 6, 0)]
    public void CountIsTheBinomialCoefficientAndZeroOutsideZeroToN(int n, int size, long expected) =>
        Assert.Equal(expected, ResponderSubsets.Count(n, size));

    [Theory]
    [InlineData(100, 50)]
    [InlineData(68, 34)]
    public void CountSaturatesAtLongMaxValue(int n, int size) =>
        Assert.Equal(long.MaxValue, ResponderSubsets.Count(n, size));

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(6, 3)]
    [InlineData(6, 6)]
    public void EveryMaskOfTheSizeIsEnumeratedOnceInIncreasingOrder(int n, int size)
    {
        var masks = ResponderSubsets.Enumerate(n, size).ToList();

        var expected = Enumerable.Range(0, 1 << n).Select(m => (ulong)m).Where(m => ulong.PopCount(m) == (ulong)size).ToList();
        Assert.Equal(expected, masks);
        Assert.Equal(expected, ResponderSubsets.All(n, size));
        Assert.Equal(ResponderSubsets.Count(n, size), masks.Count);
    }

    [Fact]
    public void SixtyFourWorkersUseEveryBitOfTheMask()
    {
        Assert.Equal(Enumerable.Range(0, 64).Select(i => 1UL << i), ResponderSubsets.Enumerate(64, 1));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => ~(1UL << (63 - i))), ResponderSubsets.Enumerate(64, 63));
        Assert.Equal([ulong.MaxValue], ResponderSubsets.Enumerate(64, 64));
        Assert.Equal([0UL], ResponderSubsets.Enumerate(64, 0));
    }

    [Theory]
    [InlineData(0, 0, "workers")]
    [InlineData(65, 1, "workers")]
    [InlineData(4, -1, "size")]
    [InlineData(4, 5, "size")]
    public void ImpossibleSetsAreRefusedByArgument(int n, int size, string argument)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ResponderSubsets.Enumerate(n, size));
        Assert.Equal(argument, error.ParamName);
    }
}
