using GpuPs.Protocol;

namespace GpuPs.Worker.Tests;

public class BFloat16ErrorFeedbackTests
{
    [Fact]
    public void What_was_sent_plus_what_is_owed_is_what_was_computed_and_every_sent_value_is_a_bfloat16()
    {
        const int length = 257, messages = 50;
        var feedback = new BFloat16ErrorFeedback(slots: 2, length);
        var random = new Random(9);
        var computed = new double[length];
        var sent = new double[length];
        for (int m = 0; m < messages; m++)
        {
            var message = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * 1e-3f).ToArray();
            for (int i = 0; i < length; i++) computed[i] += message[i];
            feedback.Round(slot: 1, message);
            Assert.All(message, v => Assert.Equal(BFloat16.Round(v), v));
            for (int i = 0; i < length; i++) sent[i] += message[i];
        }

        var owed = feedback.Residual(1);
        for (int i = 0; i < length; i++)
            Assert.True(Math.Abs(sent[i] + owed[i] - computed[i]) <= 1e-9, $"value {i}: sent {sent[i]} + owed {owed[i]} != {computed[i]}");
        Assert.True(feedback.Residual(0).IsEmpty);   // slot 0 never sent anything
    }
}
