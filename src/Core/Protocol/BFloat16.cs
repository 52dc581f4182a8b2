using System.Buffers;
using System.Buffers.Binary;

namespace GpuPs.Protocol;

/// <summary>float32 ↔ bfloat16 conversions of the wire (little-endian, round to nearest even).</summary>
public static class BFloat16
{
    /// <summary>The bfloat16 nearest to <paramref name="value"/> (ties to even), as its 16 bits.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);   // stays a NaN (the shard refuses it)
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>The float32 a bfloat16 stands for (exact).</summary>
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary><paramref name="value"/> rounded to the nearest bfloat16, as a float32.</summary>
    public static float Round(float value) => ToSingle(FromSingle(value));

    /// <summary>Writes <paramref name="values"/> as little-endian bfloat16 into <paramref name="destination"/> (2 bytes a value).</summary>
    public static void Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], FromSingle(values[i]));
    }

    /// <summary>Reads little-endian bfloat16 values (possibly split across segments) into float32s.</summary>
    public static void Decode(in ReadOnlySequence<byte> bytes, Span<float> destination)
    {
        if (bytes.IsSingleSegment)
        {
            // The usual case (a chunk in one buffer): widen straight from the span, no reader per value.
            var span = bytes.FirstSpan;
            for (int i = 0; i < destination.Length; i++) destination[i] = ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(span[(2 * i)..]));
            return;
        }
        var reader = new SequenceReader<byte>(bytes);
        for (int i = 0; i < destination.Length; i++)
        {
            reader.TryReadLittleEndian(out short bits);
            destination[i] = ToSingle((ushort)bits);
        }
    }
}
