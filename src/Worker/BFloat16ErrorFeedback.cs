using GpuPs.Protocol;
using GpuPs.Worker.Compression;

namespace GpuPs.Worker;

/// <summary>
/// Error feedback for bfloat16 pushes (1-bit SGD, Seide et al. 2014; EF-SGD, Karimireddy et al. 2019): before a message
/// is sent, the residual its slot kept from the last message is added, the sum is rounded to bfloat16 — what the wire
/// carries exactly — and what rounding dropped becomes the new residual. So nothing is lost, only delayed: after k
/// messages, Σ sent + residual = Σ true gradients. One residual per message slot (the plain and coded step sum, or each
/// multi-message partition), each allocated at its first use; one instance per worker loop, not thread-safe.
/// </summary>
/// <param name="slots">Message slots per step.</param>
/// <param name="length">Values per message.</param>
public sealed class BFloat16ErrorFeedback(int slots, int length) : IErrorFeedback
{
    private readonly float[]?[] _residuals = new float[slots][];

    /// <inheritdoc />
    public void Round(int slot, Span<float> message)
    {
        if (message.Length != length) throw new ArgumentException($"message has {message.Length} values, expected {length}", nameof(message));
        var residual = _residuals[slot] ??= new float[length];
        for (int i = 0; i < message.Length; i++)
        {
            float corrected = message[i] + residual[i];
            float sent = BFloat16.Round(corrected);
            residual[i] = corrected - sent;
            message[i] = sent;
        }
    }

    /// <inheritdoc />
    public ReadOnlySpan<float> Residual(int slot) => _residuals[slot];
}
