using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>Decodes every one of a code's 2ⁿ − 1 responder sets, as a shard would meet them.</summary>
internal static class ExhaustiveDecode
{
    /// <summary>
    /// Every set <paramref name="mustDecode"/> names (by its mask) decodes, a set missing a partition does not, and
    /// whatever decodes satisfies aᵀB_F = 1ᵀ (float64) and decodes float32 gradients within
    /// <see cref="CodeConditioning.Float32Tolerance"/> (<see cref="Float32DecodeCheck"/>, independent of the code's own
    /// rounding profile).
    /// </summary>
    public static void AssertExact(IGradientCode code, Func<ulong, bool> mustDecode)
    {
        var check = new Float32DecodeCheck(code, dimension: 256, seed: 7);
        for (ulong mask = 1; mask < 1UL << code.Workers; mask++)
        {
            var responders = CodeCatalog.Workers(mask);
            var decode = code.Decode(responders);
            bool covers = Enumerable.Range(0, code.Partitions).All(j => responders.Any(i => code.IsAssigned(i, j)));
            if (mustDecode(mask)) Assert.True(decode.IsDecodable, $"{{{string.Join(",", responders)}}}: {decode.Reason}");
            if (!covers) Assert.False(decode.IsDecodable);
            if (!decode.IsDecodable) continue;
            for (int j = 0; j < code.Partitions; j++)
                Assert.Equal(1.0, responders.Select((i, r) => decode.Weights[r] * code[i, j]).Sum(), 9);
            Assert.True(check.Error(responders) <= CodeConditioning.Float32Tolerance, $"{{{string.Join(",", responders)}}}: error {check.Error(responders)}");
        }
    }
}
