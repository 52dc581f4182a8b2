using System.Buffers.Binary;
using System.Runtime.InteropServices;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol;

/// <summary>
/// The sparse encoding of a tensor of n float32 values (<see cref="TensorEncoding.Sparse"/>): its k nonzero values as
/// k little-endian uint32 indices, strictly increasing and below n, then their k little-endian float32 values; 8k bytes.
/// n itself travels beside the bytes (the chunk's <c>value_count</c>, or the shard's length). Exact for any tensor:
/// what it leaves out is zero. A decoder refuses anything else — a length that is not whole pairs, more pairs than
/// values, an index out of range or not above the one before (a duplicate), a value that is not finite — before it
/// writes anything.
/// </summary>
public static class SparseCodec
{
    /// <summary>Bytes per carried value: its index and the value.</summary>
    public const int EntryBytes = 8;

    /// <summary>How many values of <paramref name="values"/> are not +0 (−0 counts: it travels, exactly).</summary>
    public static int NonZeros(ReadOnlySpan<float> values) =>
        values.Length - MemoryMarshal.Cast<float, uint>(values).Count(0u);

    /// <summary>Bytes of the encoding of <paramref name="values"/>.</summary>
    public static int EncodedBytes(ReadOnlySpan<float> values) => checked(NonZeros(values) * EntryBytes);

    /// <summary>Writes the encoding of <paramref name="values"/> into <paramref name="destination"/>; returns its bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="EncodedBytes"/>.</exception>
    public static int Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        int k = NonZeros(values), bytes = k * EntryBytes;
        if (destination.Length < bytes) throw new ArgumentException($"{bytes} bytes needed, {destination.Length} given", nameof(destination));
        var bits = MemoryMarshal.Cast<float, uint>(values);
        var indices = destination[..(4 * k)];
        var carried = destination[(4 * k)..bytes];
        int at = 0;
        // IndexOfAnyExcept skips runs of zeros a vector at a time: a 1 % top-k message is mostly zeros.
        for (int i = bits.IndexOfAnyExcept(0u); i >= 0; i = Next(bits, i + 1))
        {
            BinaryPrimitives.WriteUInt32LittleEndian(indices[(4 * at)..], (uint)i);
            BinaryPrimitives.WriteUInt32LittleEndian(carried[(4 * at)..], bits[i]);
            at++;
        }
        return bytes;
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="destination"/> (n values: the carried ones, zero elsewhere).
    /// Throws <see cref="ShardException"/> (InvalidRequest) naming what is wrong, with <paramref name="destination"/>
    /// untouched.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> encoded, Span<float> destination)
    {
        int n = destination.Length;
        if (encoded.Length % EntryBytes != 0)
            throw ShardException.Invalid($"sparse values of {encoded.Length} bytes are not whole (index, value) pairs of {EntryBytes} bytes");
        int k = encoded.Length / EntryBytes;
        if (k > n) throw ShardException.Invalid($"sparse values carry {k} entries for {n} values");
        var indices = encoded[..(4 * k)];
        var carried = encoded[(4 * k)..];
        long previous = -1;
        for (int j = 0; j < k; j++)
        {
            uint index = BinaryPrimitives.ReadUInt32LittleEndian(indices[(4 * j)..]);
            if (index >= n) throw ShardException.Invalid($"sparse index {index} (entry {j}) is out of range 0..{n - 1}");
            if (index <= previous)
                throw ShardException.Invalid($"sparse indices must be strictly increasing: entry {j} is {index} after {previous} ({(index == previous ? "a duplicate" : "out of order")})");
            previous = index;
            float value = BinaryPrimitives.ReadSingleLittleEndian(carried[(4 * j)..]);
            if (!float.IsFinite(value)) throw ShardException.Invalid($"sparse value at index {index} is not finite ({value})");
        }
        destination.Clear();
        for (int j = 0; j < k; j++)
            destination[(int)BinaryPrimitives.ReadUInt32LittleEndian(indices[(4 * j)..])] = BinaryPrimitives.ReadSingleLittleEndian(carried[(4 * j)..]);
    }

    private static int Next(ReadOnlySpan<uint> bits, int from)
    {
        if (from >= bits.Length) return -1;
        int i = bits[from..].IndexOfAnyExcept(0u);
        return i < 0 ? -1 : from + i;
    }
}
