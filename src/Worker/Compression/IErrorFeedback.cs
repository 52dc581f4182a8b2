namespace GpuPs.Worker.Compression;

/// <summary>
/// Error feedback of a lossy push (bfloat16 rounding, top-k, sign): before a message is sent, what its slot kept back from
/// the messages before is added, the sum is rounded in place to what the wire carries exactly, and what rounding dropped
/// is kept for the next message. So nothing is lost, only delayed: after k messages, Σ sent + residual = Σ true
/// gradients. One residual per message slot (the plain and coded step sum, or each multi-message partition); one
/// instance per worker loop, not thread-safe.
/// </summary>
public interface IErrorFeedback
{
    /// <summary>Rounds <paramref name="message"/> in place to what the wire carries, after adding slot <paramref name="slot"/>'s residual.</summary>
    void Round(int slot, Span<float> message);

    /// <summary>What slot <paramref name="slot"/> still owes the shards (empty before its first message).</summary>
    ReadOnlySpan<float> Residual(int slot);
}
