using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol;

/// <summary>
/// The few protobuf wire-format primitives the raw tensor marshallers (<see cref="PullFrame"/>, <see cref="PushChunkFrame"/>)
/// need. Writers mirror Google.Protobuf's proto3 output byte for byte: fields in field-number order, fields holding their
/// default value omitted (a double is omitted when <c>value == 0d</c>, so -0.0 too, as the generated C# code does).
/// </summary>
internal static class ProtoWire
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireStartGroup = 3, WireEndGroup = 4, WireFixed32 = 5;

    /// <summary>Upper bound of the encoded size of the scalar fields a frame writes in one batch: at most 6 one-byte tags and 6 values of at most 10 bytes.</summary>
    public const int MaxScalarFieldsBytes = 6 * 11;

    /// <summary>Tag plus length prefix of the tensor field: 1 + at most 5 bytes.</summary>
    public const int MaxBytesFieldPrefix = 6;

    public static int VarintSize(ulong value) => BitOperations.Log2(value | 1) / 7 + 1;

    /// <summary>Size of an int32/int64/bool field numbered 1-15 (one-byte tag); int32 values are sign-extended to 64 bits, as protobuf requires.</summary>
    public static int VarintFieldSize(long value) => value == 0 ? 0 : 1 + VarintSize((ulong)value);

    /// <summary>Size of a proto3 <c>optional</c> (explicit presence) int32 field numbered 1-15: written whenever it has a value, even 0.</summary>
    public static int OptionalVarintFieldSize(long? value) => value is { } v ? 1 + VarintSize((ulong)v) : 0;

    /// <summary>Size of a packed repeated int32 field (any field number); an empty one is omitted.</summary>
    public static int PackedVarintFieldSize(int field, ReadOnlySpan<int> values)
    {
        if (values.IsEmpty) return 0;
        int payload = 0;
        foreach (var v in values) payload += VarintSize((ulong)(long)v);
        return VarintSize((ulong)(field << 3 | WireLengthDelimited)) + VarintSize((ulong)payload) + payload;
    }

    /// <summary>Writes a packed repeated int32 field (int32 values sign-extended, as protobuf requires); nothing for an empty one.</summary>
    public static int WritePackedVarintField(Span<byte> destination, int field, ReadOnlySpan<int> values)
    {
        if (values.IsEmpty) return 0;
        int payload = 0;
        foreach (var v in values) payload += VarintSize((ulong)(long)v);
        int n = WriteTagged(destination, field, WireLengthDelimited, (ulong)payload);
        foreach (var v in values) n += WriteVarint(destination[n..], (ulong)(long)v);
        return n;
    }

    public static int DoubleFieldSize(double value) => value != 0d ? 1 + 8 : 0;

    /// <summary>Size of a <c>bytes</c> field of <paramref name="length"/> bytes; an empty field is omitted.</summary>
    public static int BytesFieldSize(int length) => length == 0 ? 0 : 1 + VarintSize((ulong)length) + length;

    /// <summary>Size of a varint field of any number (its tag may take two bytes, as fields 16-2047 do); 0 is omitted.</summary>
    public static int TaggedVarintFieldSize(int field, long value) =>
        value == 0 ? 0 : VarintSize((ulong)(field << 3)) + VarintSize((ulong)value);

    /// <summary>Size of a <c>bytes</c> field of any number; an empty field is omitted.</summary>
    public static int TaggedBytesFieldSize(int field, int length) =>
        length == 0 ? 0 : VarintSize((ulong)(field << 3)) + VarintSize((ulong)length) + length;

    /// <summary>
    /// Copies a compressed tensor field's bytes (possibly in segments) into a buffer rented from
    /// <see cref="ArrayPool{T}.Shared"/> (the caller owns it); they are decoded, and validated, where their destination is known.
    /// </summary>
    public static byte[] RentBytes(in ReadOnlySequence<byte> bytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(checked((int)bytes.Length));
        bytes.CopyTo(buffer);
        return buffer;
    }

    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteVarintField(Span<byte> destination, int field, long value) =>
        value == 0 ? 0 : WriteTagged(destination, field, WireVarint, (ulong)value);

    public static int WriteOptionalVarintField(Span<byte> destination, int field, long? value) =>
        value is { } v ? WriteTagged(destination, field, WireVarint, (ulong)v) : 0;

    public static int WriteDoubleField(Span<byte> destination, int field, double value)
    {
        if (value == 0d) return 0;
        destination[0] = (byte)(field << 3 | WireFixed64);
        BitConverter.TryWriteBytes(destination.Slice(1, 8), value);
        return 9;
    }

    /// <summary>Writes the tag and length prefix of a <c>bytes</c> field; nothing for an empty one.</summary>
    public static int WriteBytesFieldPrefix(Span<byte> destination, int field, int length) =>
        length == 0 ? 0 : WriteTagged(destination, field, WireLengthDelimited, (ulong)length);

    private static int WriteTagged(Span<byte> destination, int field, int wireType, ulong value)
    {
        var n = WriteVarint(destination, (ulong)(field << 3 | wireType));
        return n + WriteVarint(destination[n..], value);
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="writer"/>, asking each time for all <paramref name="remaining"/> bytes of the
    /// message: grpc-dotnet's client buffer (an ArrayBufferWriter) then grows once to the exact message size instead of doubling, and
    /// Kestrel's response pipe hands out one pooled block for the whole tensor.
    /// </summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> source, ref int remaining)
    {
        while (!source.IsEmpty)
        {
            var span = writer.GetSpan(remaining);
            var n = Math.Min(span.Length, source.Length);
            source[..n].CopyTo(span);
            writer.Advance(n);
            source = source[n..];
            remaining -= n;
        }
    }

    /// <summary>The float32 tensor as its little-endian wire bytes (no copy).</summary>
    public static ReadOnlySpan<byte> TensorBytes(ReadOnlySpan<float> values)
    {
        EnsureLittleEndian();
        return MemoryMarshal.AsBytes(values);
    }

    /// <summary>
    /// Validates the wire bytes of a tensor field and copies them into a buffer rented from <see cref="ArrayPool{T}.Shared"/>
    /// (the caller owns it). The bytes may be split across segments anywhere, even inside a float.
    /// </summary>
    public static float[] RentTensor(in ReadOnlySequence<byte> bytes, string message, out int length)
    {
        EnsureLittleEndian();
        if (bytes.Length % sizeof(float) != 0)
            throw Malformed(message, $"values field has {bytes.Length} bytes, not a multiple of 4 (float32)");
        length = checked((int)(bytes.Length / sizeof(float)));
        var buffer = ArrayPool<float>.Shared.Rent(length);
        bytes.CopyTo(MemoryMarshal.AsBytes(buffer.AsSpan(0, length)));
        return buffer;
    }

    /// <summary>
    /// Validates the wire bytes of a bfloat16 tensor field and widens them into a float32 buffer rented from
    /// <see cref="ArrayPool{T}.Shared"/> (the caller owns it).
    /// </summary>
    public static float[] RentBFloat16Tensor(in ReadOnlySequence<byte> bytes, string message, out int length)
    {
        if (bytes.Length % sizeof(ushort) != 0)
            throw Malformed(message, $"values_bf16 field has {bytes.Length} bytes, not a multiple of 2 (bfloat16)");
        length = checked((int)(bytes.Length / sizeof(ushort)));
        var buffer = ArrayPool<float>.Shared.Rent(length);
        BFloat16.Decode(bytes, buffer.AsSpan(0, length));
        return buffer;
    }

    /// <summary>The error for a malformed <paramref name="message"/>: INVALID_ARGUMENT with the problem in words.</summary>
    public static ShardException Malformed(string message, string problem) =>
        ShardException.Invalid($"Malformed {message} message: {problem}.");

    private static void EnsureLittleEndian()
    {
        // Tensors travel as little-endian float32 and are reinterpreted in place; a big-endian host would need a byte swap.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("The GpuPs tensor marshallers require a little-endian host.");
    }
}

/// <summary>
/// Reads protobuf fields from a possibly multi-segment payload. Throws <see cref="ShardException"/> (InvalidRequest) on
/// truncated or malformed input. Unknown fields, of any wire type, are skipped, as protobuf requires.
/// </summary>
internal ref struct ProtoReader(ReadOnlySequence<byte> payload, string message)
{
    private const int MaxGroupDepth = 100;
    private SequenceReader<byte> _reader = new(payload);

    /// <summary>Reads the next tag; false at the end of the payload.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        if (_reader.End)
        {
            field = wireType = 0;
            return false;
        }
        var tag = ReadVarint();
        field = (int)Math.Min(tag >> 3, int.MaxValue);
        wireType = (int)(tag & 7);
        if (field == 0) throw ProtoWire.Malformed(message, "field number 0");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!_reader.TryRead(out var b)) throw ProtoWire.Malformed(message, "truncated varint");
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw ProtoWire.Malformed(message, "varint longer than 10 bytes");
    }

    public double ReadDouble()
    {
        if (!_reader.TryReadLittleEndian(out long bits)) throw ProtoWire.Malformed(message, "truncated fixed64 field");
        return BitConverter.Int64BitsToDouble(bits);
    }

    /// <summary>The content of a length-delimited field, as a slice of the payload (no copy).</summary>
    public ReadOnlySequence<byte> ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)_reader.Remaining) throw ProtoWire.Malformed(message, $"length-delimited field of {length} bytes runs past the end");
        var content = _reader.UnreadSequence.Slice(0, (long)length);
        _reader.Advance((long)length);
        return content;
    }

    /// <summary>Reads a packed repeated int32 field's content into <paramref name="values"/>.</summary>
    public void ReadPackedVarints(List<int> values)
    {
        var inner = new ProtoReader(ReadLengthDelimited(), message);
        while (!inner._reader.End) values.Add((int)inner.ReadVarint());
    }

    /// <summary>Skips a field whose tag has just been read.</summary>
    public void Skip(int field, int wireType, int depth = 0)
    {
        switch (wireType)
        {
            case ProtoWire.WireVarint: ReadVarint(); break;
            case ProtoWire.WireFixed64: Advance(8); break;
            case ProtoWire.WireLengthDelimited: ReadLengthDelimited(); break;
            case ProtoWire.WireFixed32: Advance(4); break;
            case ProtoWire.WireStartGroup:
                // A (proto2) group runs until the end-group tag of the same field number. Nesting is bounded, like
                // Google.Protobuf's recursion limit, so that a hostile payload cannot overflow the stack.
                if (depth >= MaxGroupDepth) throw ProtoWire.Malformed(message, $"groups nested deeper than {MaxGroupDepth}");
                while (true)
                {
                    if (!TryReadTag(out var inner, out var innerType)) throw ProtoWire.Malformed(message, $"group {field} is not closed");
                    if (innerType == ProtoWire.WireEndGroup)
                    {
                        if (inner != field) throw ProtoWire.Malformed(message, $"group {field} closed by end-group {inner}");
                        return;
                    }
                    Skip(inner, innerType, depth + 1);
                }
            default: throw ProtoWire.Malformed(message, $"field {field} has invalid wire type {wireType}");
        }
    }

    private void Advance(int count)
    {
        if (_reader.Remaining < count) throw ProtoWire.Malformed(message, "truncated fixed-size field");
        _reader.Advance(count);
    }
}
