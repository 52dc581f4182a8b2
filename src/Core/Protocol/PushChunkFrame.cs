using System.Buffers;

namespace GpuPs.Protocol;

/// <summary>
/// The wire form of <see cref="PushChunk"/>: the push header, the chunk's element offset within the shard, and its float32
/// values, without a protobuf <c>ByteString</c>. <see cref="WriteTo"/> and <see cref="Parse"/> produce and accept exactly the
/// protobuf encoding of <c>PushChunk</c>.
/// </summary>
/// <remarks>
/// Ownership: a frame built by the constructor <em>borrows</em> <see cref="Values"/> (typically a slice of the worker's gradient,
/// serialized straight from it; the memory must stay unchanged until the write completes) and <see cref="Dispose"/> does nothing.
/// A frame from <see cref="Parse"/> owns a buffer rented from <see cref="ArrayPool{T}.Shared"/> that <see cref="Dispose"/> returns;
/// after that <see cref="Values"/> must not be used. Not thread-safe.
/// </remarks>
public sealed class PushChunkFrame : IWireFrame, IDisposable
{
    private const string MessageName = nameof(PushChunk);
    private float[]? _rented;

    /// <summary>A chunk that borrows <paramref name="values"/>.</summary>
    public PushChunkFrame(in PushHeader header, long offset, ReadOnlyMemory<float> values, TensorEncoding encoding = TensorEncoding.Float32)
    {
        Header = header;
        Offset = offset;
        Values = values;
        Encoding = encoding;
    }

    private PushChunkFrame(in PushHeader header, long offset, float[] rented, int length)
        : this(header, offset, rented.AsMemory(0, length)) => _rented = rented;

    /// <summary>The header fields; a chunk after the first may leave them all at their defaults.</summary>
    public PushHeader Header { get; }

    /// <summary>Element offset of the chunk within the shard.</summary>
    public long Offset { get; }

    /// <summary>
    /// The chunk's slice of the gradient sum, float32: borrowed memory for a constructed frame, a pooled buffer for a
    /// parsed one; empty once a parsed frame is disposed.
    /// </summary>
    public ReadOnlyMemory<float> Values { get; private set; }

    /// <summary>How <see cref="Values"/> travel: float32 in field 7, or bfloat16 in field 10 (rounded to nearest even).</summary>
    public TensorEncoding Encoding { get; }

    private int ValueBytes => checked(Values.Length * (Encoding == TensorEncoding.BFloat16 ? sizeof(ushort) : sizeof(float)));

    /// <summary>Size of the protobuf encoding in bytes.</summary>
    public int CalculateSize() =>
        ProtoWire.VarintFieldSize(Header.WorkerId) + ProtoWire.VarintFieldSize(Header.Step) + ProtoWire.VarintFieldSize(Header.Shard) +
        ProtoWire.VarintFieldSize(Offset) + ProtoWire.VarintFieldSize(Header.SampleCount) + ProtoWire.DoubleFieldSize(Header.LossSum) +
        ProtoWire.BytesFieldSize(ValueBytes) +
        ProtoWire.OptionalVarintFieldSize(Header.CodeRow) + ProtoWire.OptionalVarintFieldSize(Header.Partition) +
        ProtoWire.PackedVarintFieldSize(ContributorsField, ContributorIds);

    /// <summary><c>PushChunk.contributors</c>: the field number of a node aggregator's worker list.</summary>
    private const int ContributorsField = 43;

    private ReadOnlySpan<int> ContributorIds => Header.Contributors is { } c ? c.Ids : default;

    /// <summary>
    /// Writes the protobuf encoding of <c>PushChunk</c>: fields 1-6, the tensor (7) copied straight from <see cref="Values"/>,
    /// then the optional 8 and 9 when present, the bfloat16 tensor (10) instead of 7, and the contributors (43, packed).
    /// </summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        var remaining = CalculateSize();
        byte[]? packed = null;
        var values = ProtoWire.TensorBytes(Values.Span);
        if (Encoding == TensorEncoding.BFloat16)
        {
            packed = ArrayPool<byte>.Shared.Rent(ValueBytes);
            BFloat16.Encode(Values.Span, packed);
            values = packed.AsSpan(0, ValueBytes);
        }
        Span<byte> scratch = stackalloc byte[ProtoWire.MaxScalarFieldsBytes + ProtoWire.MaxBytesFieldPrefix];
        var n = ProtoWire.WriteVarintField(scratch, 1, Header.WorkerId);
        n += ProtoWire.WriteVarintField(scratch[n..], 2, Header.Step);
        n += ProtoWire.WriteVarintField(scratch[n..], 3, Header.Shard);
        n += ProtoWire.WriteVarintField(scratch[n..], 4, Offset);
        n += ProtoWire.WriteVarintField(scratch[n..], 5, Header.SampleCount);
        n += ProtoWire.WriteDoubleField(scratch[n..], 6, Header.LossSum);
        // Fields go in number order, as protobuf writes them; the bfloat16 field (10) comes after code_row and partition.
        if (Encoding == TensorEncoding.Float32)
        {
            n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 7, values.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, values, ref remaining);
            n = 0;
        }
        n += ProtoWire.WriteOptionalVarintField(scratch[n..], 8, Header.CodeRow);
        n += ProtoWire.WriteOptionalVarintField(scratch[n..], 9, Header.Partition);
        if (Encoding == TensorEncoding.BFloat16) n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 10, values.Length);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
        if (packed is not null)
        {
            ProtoWire.Write(writer, values, ref remaining);
            ArrayPool<byte>.Shared.Return(packed);
        }
        if (!ContributorIds.IsEmpty)
        {
            // At most 64 workers per node in practice (5 bytes each); a larger list is rented, not stack-allocated.
            int size = ProtoWire.PackedVarintFieldSize(ContributorsField, ContributorIds);
            var rented = size > 512 ? ArrayPool<byte>.Shared.Rent(size) : null;
            Span<byte> list = rented ?? stackalloc byte[512];
            ProtoWire.Write(writer, list[..ProtoWire.WritePackedVarintField(list, ContributorsField, ContributorIds)], ref remaining);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Parses any valid protobuf encoding of <c>PushChunk</c> (fields in any order, repeated fields last-wins, unknown fields
    /// skipped) into a frame that owns a pooled buffer. Throws <see cref="GpuPs.Core.Shards.ShardException"/> (InvalidRequest) on malformed input.
    /// </summary>
    public static PushChunkFrame Parse(ReadOnlySequence<byte> payload)
    {
        var reader = new ProtoReader(payload, MessageName);
        int workerId = 0, shard = 0;
        long step = 0, offset = 0, sampleCount = 0;
        double lossSum = 0;
        int? codeRow = null, partition = null;
        var values = ReadOnlySequence<byte>.Empty;
        ReadOnlySequence<byte>? bfloat16 = null;
        bool float32 = false;
        List<int>? contributors = null;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1, ProtoWire.WireVarint): workerId = (int)reader.ReadVarint(); break;
                case (2, ProtoWire.WireVarint): step = (long)reader.ReadVarint(); break;
                case (3, ProtoWire.WireVarint): shard = (int)reader.ReadVarint(); break;
                case (4, ProtoWire.WireVarint): offset = (long)reader.ReadVarint(); break;
                case (5, ProtoWire.WireVarint): sampleCount = (long)reader.ReadVarint(); break;
                case (6, ProtoWire.WireFixed64): lossSum = reader.ReadDouble(); break;
                case (7, ProtoWire.WireLengthDelimited): values = reader.ReadLengthDelimited(); float32 = true; break;
                case (8, ProtoWire.WireVarint): codeRow = (int)reader.ReadVarint(); break;
                case (9, ProtoWire.WireVarint): partition = (int)reader.ReadVarint(); break;
                case (10, ProtoWire.WireLengthDelimited): bfloat16 = reader.ReadLengthDelimited(); break;
                case (ContributorsField, ProtoWire.WireLengthDelimited): reader.ReadPackedVarints(contributors ??= []); break;
                case (ContributorsField, ProtoWire.WireVarint): (contributors ??= []).Add((int)reader.ReadVarint()); break;
                default: reader.Skip(field, wireType); break;
            }
        }
        if (float32 && bfloat16 is not null) throw ProtoWire.Malformed(MessageName, "both values and values_bf16 are set");
        var buffer = bfloat16 is { } half
            ? ProtoWire.RentBFloat16Tensor(half, MessageName, out var length)
            : ProtoWire.RentTensor(values, MessageName, out length);
        var header = new PushHeader(workerId, step, shard, sampleCount, lossSum, codeRow, partition,
            contributors is { Count: > 0 } ? new ContributorList(contributors) : null);
        return new PushChunkFrame(header, offset, buffer, length);
    }

    /// <summary>
    /// Returns a parsed frame's pooled buffer and empties <see cref="Values"/>; does nothing for a constructed frame,
    /// which only borrows. Calling it again does nothing.
    /// </summary>
    public void Dispose()
    {
        if (_rented is { } rented)
        {
            _rented = null;
            Values = default;
            ArrayPool<float>.Shared.Return(rented);
        }
    }
}
