using System.Numerics.Tensors;
using GpuPs.Core.Compression;
using GpuPs.Protocol;

namespace GpuPs.Worker.Compression;

/// <summary>
/// Error feedback for top-k and sign pushes (<see cref="TensorCompressor"/>), with Deep Gradient Compression's momentum
/// correction (Lin et al., ICLR 2018) when the job sets a momentum m: per slot the worker accumulates u ← m·u + g and
/// v ← v + u, sends the compressed v and keeps the rest of v as the residual; with top-k the momentum of the values it
/// sent is cleared too (momentum factor masking), so a sent value does not push again through stale momentum. With
/// m = 0 this is plain error feedback: Σ sent + residual = Σ g. Sign blocks start at each shard's slice, so the
/// transport encodes each shard's message exactly.
/// </summary>
/// <param name="slots">Message slots per step.</param>
/// <param name="length">Values per message.</param>
/// <param name="compressor">Rounds a message to what its encoding carries.</param>
/// <param name="momentum">DGC momentum m in [0, 1); 0 turns the correction off.</param>
/// <param name="shardLengths">The consecutive shard slices of a message, which travel as separate messages.</param>
public sealed class CompressionErrorFeedback(int slots, int length, TensorCompressor compressor, double momentum, int[] shardLengths) : IErrorFeedback
{
    private readonly float[]?[] _residuals = new float[slots][];
    private readonly float[]?[] _momenta = new float[slots][];

    /// <summary>The encoding a rounded message travels in.</summary>
    public TensorEncoding Encoding => compressor.Encoding;

    /// <inheritdoc />
    public void Round(int slot, Span<float> message)
    {
        if (message.Length != length) throw new ArgumentException($"message has {message.Length} values, expected {length}", nameof(message));
        var residual = _residuals[slot] ??= new float[length];
        if (momentum > 0)
        {
            var u = _momenta[slot] ??= new float[length];
            TensorPrimitives.MultiplyAdd(u, (float)momentum, message, u);   // u = m·u + g
            u.CopyTo(message);
        }
        TensorPrimitives.Add(message, residual, message);   // v = residual + (u or g)
        message.CopyTo(residual);
        compressor.Round(message, shardLengths);
        TensorPrimitives.Subtract(residual, message, residual);   // what was not sent (top-k: exactly, value by value)
        if (momentum > 0 && compressor.Kind == CompressionKind.TopK)
        {
            var u = _momenta[slot]!;
            for (int i = 0; i < length; i++) if (message[i] != 0) u[i] = 0;
        }
    }

    /// <inheritdoc />
    public ReadOnlySpan<float> Residual(int slot) => _residuals[slot];
}
