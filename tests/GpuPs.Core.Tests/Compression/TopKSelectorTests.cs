using GpuPs.Core.Compression;

namespace GpuPs.Core.Tests.Compression;

/// <summary>The top-k selection is exact: the same indices as sorting every magnitude, ties to the lower index.</summary>
public class TopKSelectorTests
{
    [Theory]
    [InlineData(100, 1, false)]
    [InlineData(100, 37, false)]
    [InlineData(50_000, 500, false)]
    [InlineData(50_000, 500, true)]    // many ties: values from a handful of levels
    [InlineData(50_000, 20_000, false)]
    [InlineData(12_345, 12_345, false)]
    [InlineData(12_345, 0, false)]
    public void Selects_exactly_what_a_full_sort_selects(int n, int k, bool ties)
    {
        var random = new Random(n + k);
        var values = Enumerable.Range(0, n).Select(_ => ties ? random.Next(-4, 5) / 4f : (float)(random.NextDouble() * 2 - 1) * random.Next(1, 100)).ToArray();
        var expected = Enumerable.Range(0, n).OrderByDescending(i => MathF.Abs(values[i])).ThenBy(i => i).Take(k).Order().ToArray();

        var indices = new int[k];
        var selector = new TopKSelector();
        Assert.Equal(k, selector.Select(values, k, indices));
        Assert.Equal(expected, indices);
        Assert.Equal(k, selector.Select(values, k, indices));   // scratch reused
        Assert.Equal(expected, indices);
    }

    [Fact]
    public void A_skewed_sample_still_gives_the_exact_answer()
    {
        // Every sampled position (a multiple of the stride) holds a huge value, so the sampled threshold lets through
        // only those: fewer than k, and the selector falls back to all values.
        var values = new float[100_000];
        for (int i = 0; i < values.Length; i++) values[i] = i % 24 == 0 ? 1000 + i : i % 7;
        var expected = Enumerable.Range(0, values.Length).OrderByDescending(i => MathF.Abs(values[i])).ThenBy(i => i).Take(10_000).Order().ToArray();
        var indices = new int[10_000];
        new TopKSelector().Select(values, 10_000, indices);
        Assert.Equal(expected, indices);
    }
}
