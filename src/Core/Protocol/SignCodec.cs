using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol;

/// <summary>
/// The sign encoding of a tensor of n float32 values (<see cref="TensorEncoding.Sign"/>), every value of which is ±its
/// block's scale (blocks of <see cref="BlockSize"/> values from the tensor's start; the last may be shorter): one
/// little-endian float32 scale per block, then n sign bits (bit i of byte i/8 set: value i is negative), the unused bits
/// of the last byte zero; 4⌈n/1024⌉ + ⌈n/8⌉ bytes, 1.03 bits a value. n travels beside the bytes. A decoder refuses a
/// wrong length, a scale that is negative or not finite, or a set padding bit, before it writes anything.
/// </summary>
public static class SignCodec
{
    /// <summary>
    /// Values sharing one scale. 1,024 costs 1/32 bit a value for the scales (1.03 bits in all, 31× less than float32);
    /// a block small enough that one large value does not flatten a whole layer's update.
    /// </summary>
    public const int BlockSize = 1024;

    /// <summary>Blocks of <paramref name="count"/> values.</summary>
    public static int Blocks(int count) => (count + BlockSize - 1) / BlockSize;

    /// <summary>Bytes of the encoding of <paramref name="count"/> values.</summary>
    public static int EncodedBytes(int count) => checked(sizeof(float) * Blocks(count) + (count + 7) / 8);

    /// <summary>Writes the encoding of <paramref name="values"/> into <paramref name="destination"/>; returns its bytes.</summary>
    /// <exception cref="ArgumentException">
    /// A block's values are not all of one magnitude (the tensor was not rounded by a sign compressor with these blocks:
    /// the encoding would not be exact), or <paramref name="destination"/> is too short.
    /// </exception>
    public static int Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        int n = values.Length, blocks = Blocks(n), bytes = EncodedBytes(n);
        if (destination.Length < bytes) throw new ArgumentException($"{bytes} bytes needed, {destination.Length} given", nameof(destination));
        for (int b = 0; b < blocks; b++)
        {
            var block = values.Slice(b * BlockSize, Math.Min(BlockSize, n - b * BlockSize));
            float scale = MathF.Abs(TensorPrimitives.MaxMagnitude(block));
            if (MathF.Abs(TensorPrimitives.MinMagnitude(block)) != scale)
                throw new ArgumentException($"block {b} holds values of different magnitudes: sign encoding is exact only for ±scale per block of {BlockSize} from the tensor's start");
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * b)..], scale);
        }
        var signs = destination[(4 * blocks)..bytes];
        int i = 0;
        for (; i <= n - 8; i += 8)
            signs[i / 8] = (byte)Vector256.ExtractMostSignificantBits(Vector256.Create(values.Slice(i, 8)));
        if (i < n)
        {
            byte last = 0;
            for (int j = i; j < n; j++) if (float.IsNegative(values[j])) last |= (byte)(1 << (j - i));
            signs[i / 8] = last;
        }
        return bytes;
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="destination"/> (n values). Throws
    /// <see cref="ShardException"/> (InvalidRequest) naming what is wrong, with <paramref name="destination"/> untouched.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> encoded, Span<float> destination)
    {
        int n = destination.Length, blocks = Blocks(n);
        if (encoded.Length != EncodedBytes(n))
            throw ShardException.Invalid($"sign values of {encoded.Length} bytes for {n} values; {EncodedBytes(n)} expected ({blocks} scales, {(n + 7) / 8} bytes of signs)");
        for (int b = 0; b < blocks; b++)
        {
            float scale = BinaryPrimitives.ReadSingleLittleEndian(encoded[(4 * b)..]);
            if (!float.IsFinite(scale) || float.IsNegative(scale))
                throw ShardException.Invalid($"sign scale of block {b} is {scale}: a scale must be finite and not negative");
        }
        var signs = encoded[(4 * blocks)..];
        if (n % 8 != 0 && signs[^1] >> (n % 8) != 0)
            throw ShardException.Invalid($"sign values set padding bits past value {n - 1}");
        for (int b = 0; b < blocks; b++)
        {
            float scale = BinaryPrimitives.ReadSingleLittleEndian(encoded[(4 * b)..]);
            for (int i = b * BlockSize, end = Math.Min(n, i + BlockSize); i < end; i++)
                destination[i] = (signs[i >> 3] >> (i & 7) & 1) != 0 ? -scale : scale;
        }
    }
}
