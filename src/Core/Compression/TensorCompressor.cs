using System.Numerics.Tensors;
using GpuPs.Protocol;

namespace GpuPs.Core.Compression;

/// <summary>
/// Rounds a tensor in place to exactly what its compressed encoding carries, so that the encoding is lossless for the
/// result and the caller can keep the difference as a residual: top-k zeroes all but the k values of largest magnitude
/// (<see cref="TopKSelector"/>); sign replaces each value by its sign times its block's mean magnitude, blocks of
/// <see cref="SignCodec.BlockSize"/> counted from the start of each segment (a segment is what one message carries: a
/// shard's slice). Keeps scratch between calls; one instance per caller, not thread-safe.
/// </summary>
public sealed class TensorCompressor
{
    private readonly TopKSelector _selector = new();
    private readonly CompressionSettings _settings;
    private int[] _indices = [];
    private float[] _kept = [];

    /// <summary>A compressor of kind <paramref name="kind"/> (top-k with <paramref name="settings"/>' ratio).</summary>
    /// <exception cref="ArgumentException"><paramref name="kind"/> is <see cref="CompressionKind.None"/>.</exception>
    public TensorCompressor(CompressionKind kind, CompressionSettings settings)
    {
        if (kind == CompressionKind.None) throw new ArgumentException("a compressor needs topk or sign", nameof(kind));
        Kind = kind;
        _settings = settings;
    }

    /// <summary>What it compresses to.</summary>
    public CompressionKind Kind { get; }

    /// <summary>The wire encoding that carries its output exactly: <see cref="TensorEncoding.Sparse"/> or <see cref="TensorEncoding.Sign"/>.</summary>
    public TensorEncoding Encoding => Kind == CompressionKind.TopK ? TensorEncoding.Sparse : TensorEncoding.Sign;

    /// <summary>Rounds <paramref name="values"/>, one segment.</summary>
    public void Round(Span<float> values) => Round(values, [values.Length]);

    /// <summary>
    /// Rounds <paramref name="values"/> in place. Top-k keeps the k = ⌈ratio × n⌉ values of largest magnitude over the
    /// whole vector; sign rounds block by block within each of the consecutive <paramref name="segmentLengths"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The segment lengths do not add up to the vector's length.</exception>
    public void Round(Span<float> values, ReadOnlySpan<int> segmentLengths)
    {
        long total = 0;
        foreach (var length in segmentLengths) total += length;
        if (total != values.Length) throw new ArgumentException($"segments cover {total} values, the tensor has {values.Length}", nameof(segmentLengths));
        if (Kind == CompressionKind.TopK) KeepTopK(values);
        else
        {
            int offset = 0;
            foreach (var length in segmentLengths)
            {
                var segment = values.Slice(offset, length);
                for (int block = 0; block < length; block += SignCodec.BlockSize)
                    SignRound(segment.Slice(block, Math.Min(SignCodec.BlockSize, length - block)));
                offset += length;
            }
        }
    }

    private void KeepTopK(Span<float> values)
    {
        int k = _settings.TopK(values.Length);
        if (_indices.Length < k) (_indices, _kept) = (new int[k], new float[k]);
        k = _selector.Select(values, k, _indices);
        for (int i = 0; i < k; i++) _kept[i] = values[_indices[i]];
        values.Clear();
        for (int i = 0; i < k; i++) values[_indices[i]] = _kept[i];
    }

    /// <summary>Every value becomes ±(the block's mean magnitude), its sign bit kept (−0 stays negative, as the codec reads it).</summary>
    private static void SignRound(Span<float> block)
    {
        float scale = TensorPrimitives.SumOfMagnitudes<float>(block) / block.Length;
        for (int i = 0; i < block.Length; i++) block[i] = float.CopySign(scale, block[i]);
    }
}
