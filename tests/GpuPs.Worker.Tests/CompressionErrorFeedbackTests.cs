using GpuPs.Core.Compression;
using GpuPs.Protocol;
using GpuPs.Worker.Compression;

namespace GpuPs.Worker.Tests;

/// <summary>
/// Error feedback of top-k and sign pushes: nothing is lost, only delayed. The gradients are small integers and the sign
/// blocks (8 shards of 8 values) short, so every sum in the test is exact in float32 and the invariant holds exactly, not within a tolerance.
/// </summary>
public class CompressionErrorFeedbackTests
{
    [Theory]
    [InlineData(CompressionKind.TopK)]
    [InlineData(CompressionKind.Sign)]
    public void Sent_plus_residual_equals_the_sum_of_the_true_gradients_exactly(CompressionKind kind)
    {
        const int length = 64, messages = 5;   // sign residuals gain 3 bits of fraction a message: 5 stay within float32's 24
        var settings = new CompressionSettings(kind, TopKRatio: 0.125);
        var feedback = new CompressionErrorFeedback(slots: 2, length, new TensorCompressor(kind, settings), momentum: 0, shardLengths: [8, 8, 8, 8, 8, 8, 8, 8]);
        var random = new Random(3);
        var computed = new float[length];
        var sent = new float[length];
        for (int m = 0; m < messages; m++)
        {
            var message = Enumerable.Range(0, length).Select(_ => (float)random.Next(-8, 9)).ToArray();
            for (int i = 0; i < length; i++) computed[i] += message[i];
            feedback.Round(slot: 1, message);
            if (kind == CompressionKind.TopK) Assert.Equal(8, message.Count(v => v != 0));
            var encoded = new byte[TensorCodec.EncodedBytes(feedback.Encoding, message.AsSpan(0, 8))];
            TensorCodec.Encode(feedback.Encoding, message.AsSpan(0, 8), encoded);   // each shard's slice is exactly encodable
            for (int i = 0; i < length; i++) sent[i] += message[i];
        }

        var owed = feedback.Residual(1).ToArray();
        for (int i = 0; i < length; i++) Assert.Equal(computed[i], sent[i] + owed[i]);
        Assert.NotEqual(computed, sent);   // something was held back
        Assert.True(feedback.Residual(0).IsEmpty);
    }

    [Fact]
    public void Momentum_correction_sends_the_top_k_of_accumulated_momentum_and_masks_what_it_sent()
    {
        // DGC's worker, in plain arithmetic (m = 0.5 keeps every value a dyadic fraction: exact in float32).
        const int length = 16, k = 2;
        const float m = 0.5f;
        var feedback = new CompressionErrorFeedback(1, length, new TensorCompressor(CompressionKind.TopK, new CompressionSettings(TopKRatio: k / (double)length)), m, [length]);
        var u = new float[length];
        var v = new float[length];
        var random = new Random(11);
        for (int step = 0; step < 8; step++)
        {
            var g = Enumerable.Range(0, length).Select(_ => (float)random.Next(-16, 17)).ToArray();
            for (int i = 0; i < length; i++) (u[i], v[i]) = (m * u[i] + g[i], v[i] + m * u[i] + g[i]);
            var chosen = Enumerable.Range(0, length).OrderByDescending(i => MathF.Abs(v[i])).ThenBy(i => i).Take(k).ToHashSet();
            var expected = Enumerable.Range(0, length).Select(i => chosen.Contains(i) ? v[i] : 0f).ToArray();
            foreach (var i in chosen) (u[i], v[i]) = (0, 0);

            feedback.Round(0, g);
            Assert.Equal(expected, g);
            Assert.Equal(v, feedback.Residual(0).ToArray());
        }
    }
}
