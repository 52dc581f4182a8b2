using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

public class GradientDecoderTests
{
    [Fact]
    public void WeightsFollowResponderOrderAndSetsAreCachedByMembership()
    {
        var decoder = new GradientDecoder(new CyclicRepetitionCode(7, 2));
        var forward = decoder.Decode([0, 2, 3, 5, 6]);
        var backward = decoder.Decode([6, 5, 3, 2, 0]);
        Assert.True(forward.IsDecodable, forward.Reason);
        Assert.Equal(forward.Weights.Reverse(), backward.Weights);
        Assert.Equal(1, decoder.CachedSets);
    }

    [Fact]
    public void MoreRespondersThanNeededGetABasicSolution()
    {
        var code = new CyclicRepetitionCode(7, 2);
        var result = code.Decode(Enumerable.Range(0, 7).ToArray());
        Assert.True(result.IsDecodable, result.Reason);
        Assert.Equal(5, result.Rank);
        Assert.Equal(2, result.Weights.Count(w => w == 0));
    }

    [Theory]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { -1, 0 })]
    [InlineData(new[] { 1, 2, 1 })]
    public void InvalidResponderListsThrow(int[] responders)
    {
        var code = new CyclicRepetitionCode(7, 2);
        Assert.Throws<ArgumentException>(() => code.Decode(responders));
    }

    [Fact]
    public void RefusalsCarryReasons()
    {
        var code = new CyclicRepetitionCode(7, 2);
        var none = code.Decode([]);
        Assert.False(none.IsDecodable);
        Assert.Equal("no responders", none.Reason);
        Assert.Empty(none.Weights);
        var uncovered = code.Decode([0, 1]);
        Assert.Contains("held by no responder", uncovered.Reason);
        var notInSpan = code.Decode([0, 1, 3, 5]);
        Assert.False(notInSpan.IsDecodable);
        Assert.Contains("not in the span", notInSpan.Reason);
        Assert.True(notInSpan.Residual > GradientDecoder.ResidualTolerance);
    }
}
