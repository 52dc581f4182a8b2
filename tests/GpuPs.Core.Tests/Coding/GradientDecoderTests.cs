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

    /// <summary>
    /// Rows (1+δ, 1) and (1, 1−δ) decode exactly in float64 with weights ±1/δ, but float32 encoding errors come back
    /// amplified 1e4×: the residual test alone (the old rule) accepts it, the predicted-error test refuses it.
    /// </summary>
    [Fact]
    public void AnIllConditionedSetIsRefusedThoughItsResidualIsTiny()
    {
        const double delta = 1e-4;
        var code = new HandMadeCode(new double[,] { { 1 + delta, 1 }, { 1, 1 - delta } });
        var result = code.Decode([0, 1]);
        Assert.False(result.IsDecodable);
        Assert.True(result.Residual <= GradientDecoder.ResidualTolerance, $"residual {result.Residual}");
        Assert.True(result.PredictedFloat32Error > CodeConditioning.Float32Tolerance);
        Assert.Contains("ill-conditioned", result.Reason);

        var fine = new HandMadeCode(new double[,] { { 1, 1 }, { 1, -1 } }).Decode([1, 0]);
        Assert.True(fine.IsDecodable, fine.Reason);
        Assert.Equal([0.0, 1.0], fine.Weights.Select(w => Math.Round(w, 12)));
    }

    [Fact]
    public void UncoveredSetsAreRefusedWithoutBeingCachedAndTheCacheIsBounded()
    {
        var decoder = new GradientDecoder(new CyclicRepetitionCode(16, 3));
        for (ulong mask = 1; mask < 1UL << 16; mask += 3) decoder.Decode(CodeCatalog.Workers(mask));
        Assert.InRange(decoder.CachedSets, 1, GradientDecoder.MaxCachedSets);
        var beforeUncovered = decoder.CachedSets;
        Assert.False(decoder.Decode([0]).IsDecodable);
        Assert.Equal(beforeUncovered, decoder.CachedSets);
    }
}
