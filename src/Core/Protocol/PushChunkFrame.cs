using System.Buffers;

namespace GpuPs.Protocol;

/// <summary>
/// The wire form of <see cref="PushChunk"/>: the push header, the chunk's element offset within the shard, and its values,
/// without a protobuf <c>ByteString</c>. <see cref="WriteTo"/> and <see cref="Parse"/> produce and accept exactly the
/// protobuf encoding of <c>PushChunk</c>.
/// </summary>
/// <remarks>
/// Ownership: a frame built by the constructor <em>borrows</em> <see cref="Values"/> (typically a slice of the worker's gradient,
/// serialized straight from it; the memory must stay unchanged until the write completes) and <see cref="Dispose"/> does nothing.
/// A frame from <see cref="Parse"/> owns a buffer rented from <see cref="ArrayPool{T}.Shared"/> that <see cref="Dispose"/> returns:
/// float32 values (bfloat16 ones widened), or a compressed chunk's bytes, which <see cref="CopyTo"/> decodes and validates
/// into its destination (so a hostile <c>value_count</c> costs no allocation). Not thread-safe.
/// </remarks>
public sealed class PushChunkFrame : IWireFrame, IDisposable
{
    private const string MessageName = nameof(PushChunk);
    private const int SparseField = 80, SignField = 81, CountField = 82;
    private float[]? _rented;
    private byte[]? _compressed;
    private int _compressedLength = -1;

    /// <summary>A chunk that borrows <paramref name="values"/>, to travel in <paramref name="encoding"/>.</summary>
    /// <remarks>A compressed encoding must carry <paramref name="values"/> exactly (see <see cref="TensorCodec.Encode"/>).</remarks>
    public PushChunkFrame(in PushHeader header, long offset, ReadOnlyMemory<float> values, TensorEncoding encoding = TensorEncoding.Float32)
    {
        Header = header;
        Offset = offset;
        Values = values;
        Encoding = encoding;
        Count = values.Length;
    }

    private PushChunkFrame(in PushHeader header, long offset, float[] rented, int length)
        : this(header, offset, rented.AsMemory(0, length)) => _rented = rented;

    private PushChunkFrame(in PushHeader header, long offset, TensorEncoding encoding, byte[] compressed, int compressedLength, int count)
        : this(header, offset, ReadOnlyMemory<float>.Empty, encoding) =>
        (_compressed, _compressedLength, Count) = (compressed, compressedLength, count);

    /// <summary>The header fields; a chunk after the first may leave them all at their defaults.</summary>
    public PushHeader Header { get; }

    /// <summary>Element offset of the chunk within the shard.</summary>
    public long Offset { get; }

    /// <summary>
    /// The chunk's slice of the gradient sum, float32: borrowed memory for a constructed frame, a pooled buffer for a
    /// parsed one; empty once a parsed frame is disposed, and for a parsed compressed chunk (see <see cref="CopyTo"/>).
    /// </summary>
    public ReadOnlyMemory<float> Values { get; private set; }

    /// <summary>Values of the shard the chunk covers, from <see cref="Offset"/>.</summary>
    public int Count { get; }

    /// <summary>How the values travel: float32 (field 7), bfloat16 (10), sparse (80) or sign (81).</summary>
    public TensorEncoding Encoding { get; }

    /// <summary>
    /// Writes the chunk's <see cref="Count"/> values into <paramref name="destination"/> (exactly that long): a copy, or
    /// the decode of a compressed chunk, which throws <see cref="GpuPs.Core.Shards.ShardException"/> (InvalidRequest) for
    /// bytes that are not a valid encoding and then writes nothing.
    /// </summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Count) throw new ArgumentException($"the chunk covers {Count} values, the destination {destination.Length}", nameof(destination));
        if (_compressed is { } bytes) TensorCodec.Decode(Encoding, bytes.AsSpan(0, _compressedLength), destination);
        else Values.Span.CopyTo(destination);
    }

    private bool Compressed => TensorCodec.IsCompressed(Encoding);

    private int ValueBytes
    {
        get
        {
            if (Compressed) return _compressedLength >= 0 ? _compressedLength : _compressedLength = TensorCodec.EncodedBytes(Encoding, Values.Span);
            return checked(Values.Length * (Encoding == TensorEncoding.BFloat16 ? sizeof(ushort) : sizeof(float)));
        }
    }

    /// <summary>Size of the protobuf encoding in bytes.</summary>
    public int CalculateSize() =>
        ProtoWire.VarintFieldSize(Header.WorkerId) + ProtoWire.VarintFieldSize(Header.Step) + ProtoWire.VarintFieldSize(Header.Shard) +
        ProtoWire.VarintFieldSize(Offset) + ProtoWire.VarintFieldSize(Header.SampleCount) + ProtoWire.DoubleFieldSize(Header.LossSum) +
        (Compressed
            ? ProtoWire.TaggedBytesFieldSize(Encoding == TensorEncoding.Sparse ? SparseField : SignField, ValueBytes) + ProtoWire.TaggedVarintFieldSize(CountField, Count)
            : ProtoWire.BytesFieldSize(ValueBytes)) +
        ProtoWire.OptionalVarintFieldSize(Header.CodeRow) + ProtoWire.OptionalVarintFieldSize(Header.Partition) +
        ProtoWire.PackedVarintFieldSize(ContributorsField, ContributorIds) + PieceFieldsSize;

    /// <summary><c>PushChunk.contributors</c>: the field number of a node aggregator's worker list.</summary>
    private const int ContributorsField = 43;

    private ReadOnlySpan<int> ContributorIds => Header.Contributors is { } c ? c.Ids : default;

    /// <summary>Fields 90 and 91 (two-byte tags; a zero offset is omitted, as protobuf does).</summary>
    private int PieceFieldsSize => Header.Piece is { } piece ? ProtoWire.TaggedVarintFieldSize(90, piece.Offset) + ProtoWire.TaggedVarintFieldSize(91, piece.Length) : 0;

    /// <summary>
    /// Writes the protobuf encoding of <c>PushChunk</c>: fields 1-6, the tensor (7) copied straight from <see cref="Values"/>,
    /// then the optional 8 and 9 when present, the bfloat16 tensor (10) instead of 7, the contributors (43, packed),
    /// a compressed tensor (80 or 81, with 82) instead of 7, and the piece (90, 91).
    /// </summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        var remaining = CalculateSize();
        byte[]? packed = null;
        var values = ProtoWire.TensorBytes(Values.Span);
        if (Encoding != TensorEncoding.Float32)
        {
            packed = ArrayPool<byte>.Shared.Rent(ValueBytes);
            if (Compressed) TensorCodec.Encode(Encoding, Values.Span, packed);
            else BFloat16.Encode(Values.Span, packed);
            values = packed.AsSpan(0, ValueBytes);
        }
        // Fields 1-6, 8 and 9 and a two-byte-tagged prefix at most (8 × 11 + 7 bytes).
        Span<byte> scratch = stackalloc byte[128];
        var n = ProtoWire.WriteVarintField(scratch, 1, Header.WorkerId);
        n += ProtoWire.WriteVarintField(scratch[n..], 2, Header.Step);
        n += ProtoWire.WriteVarintField(scratch[n..], 3, Header.Shard);
        n += ProtoWire.WriteVarintField(scratch[n..], 4, Offset);
        n += ProtoWire.WriteVarintField(scratch[n..], 5, Header.SampleCount);
        n += ProtoWire.WriteDoubleField(scratch[n..], 6, Header.LossSum);
        // Fields go in number order, as protobuf writes them; the other encodings' fields come after code_row and partition.
        if (Encoding == TensorEncoding.Float32)
        {
            n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 7, values.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, values, ref remaining);
            n = 0;
        }
        n += ProtoWire.WriteOptionalVarintField(scratch[n..], 8, Header.CodeRow);
        n += ProtoWire.WriteOptionalVarintField(scratch[n..], 9, Header.Partition);
        if (Encoding == TensorEncoding.BFloat16)
        {
            n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 10, values.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, values, ref remaining);
            n = 0;
        }
        ProtoWire.Write(writer, scratch[..n], ref remaining);
        if (!ContributorIds.IsEmpty)
        {
            // At most 64 workers per node in practice (5 bytes each); a larger list is rented, not stack-allocated.
            int size = ProtoWire.PackedVarintFieldSize(ContributorsField, ContributorIds);
            var rented = size > 512 ? ArrayPool<byte>.Shared.Rent(size) : null;
            Span<byte> list = rented ?? stackalloc byte[512];
            ProtoWire.Write(writer, list[..ProtoWire.WritePackedVarintField(list, ContributorsField, ContributorIds)], ref remaining);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
        if (Compressed)
        {
            n = ProtoWire.WriteBytesFieldPrefix(scratch, Encoding == TensorEncoding.Sparse ? SparseField : SignField, values.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, values, ref remaining);
            n = ProtoWire.WriteVarintField(scratch, CountField, Count);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
        }
        if (packed is not null) ArrayPool<byte>.Shared.Return(packed);
        if (Header.Piece is { } piece)
        {
            n = ProtoWire.WriteVarintField(scratch, 90, piece.Offset);
            n += ProtoWire.WriteVarintField(scratch[n..], 91, piece.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
        }
    }

    /// <summary>
    /// Parses any valid protobuf encoding of <c>PushChunk</c> (fields in any order, repeated fields last-wins, unknown fields
    /// skipped) into a frame that owns a pooled buffer. Throws <see cref="GpuPs.Core.Shards.ShardException"/> (InvalidRequest)
    /// on malformed input, or a chunk that sets more than one of the tensor fields.
    /// </summary>
    public static PushChunkFrame Parse(ReadOnlySequence<byte> payload)
    {
        var reader = new ProtoReader(payload, MessageName);
        int workerId = 0, shard = 0;
        long step = 0, offset = 0, sampleCount = 0, valueCount = 0, pieceOffset = 0, pieceLength = 0;
        double lossSum = 0;
        int? codeRow = null, partition = null;
        var values = ReadOnlySequence<byte>.Empty;
        ReadOnlySequence<byte>? bfloat16 = null, sparse = null, sign = null;
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
                case (SparseField, ProtoWire.WireLengthDelimited): sparse = reader.ReadLengthDelimited(); break;
                case (SignField, ProtoWire.WireLengthDelimited): sign = reader.ReadLengthDelimited(); break;
                case (CountField, ProtoWire.WireVarint): valueCount = (long)reader.ReadVarint(); break;
                case (90, ProtoWire.WireVarint): pieceOffset = (long)reader.ReadVarint(); break;
                case (91, ProtoWire.WireVarint): pieceLength = (long)reader.ReadVarint(); break;
                default: reader.Skip(field, wireType); break;
            }
        }
        if (pieceOffset is < 0 or > int.MaxValue || pieceLength is < 0 or > int.MaxValue)
            throw ProtoWire.Malformed(MessageName, $"piece [{pieceOffset}, +{pieceLength}) is out of range");
        PieceRange? piece = pieceLength > 0 ? new PieceRange((int)pieceOffset, (int)pieceLength) : null;
        var header = new PushHeader(workerId, step, shard, sampleCount, lossSum, codeRow, partition,
            contributors is { Count: > 0 } ? new ContributorList(contributors) : null, piece);
        bool compressed = sparse is not null || sign is not null || valueCount != 0;
        int tensors = (float32 ? 1 : 0) + (bfloat16 is null ? 0 : 1) + (sparse is null ? 0 : 1) + (sign is null ? 0 : 1);
        if (float32 && bfloat16 is not null) throw ProtoWire.Malformed(MessageName, "both values and values_bf16 are set");
        if (tensors > 1) throw ProtoWire.Malformed(MessageName, "more than one of values, values_bf16, sparse_values and sign_values is set");
        if (compressed)
        {
            if (float32 || bfloat16 is not null) throw ProtoWire.Malformed(MessageName, "value_count is set beside float32 or bfloat16 values");
            if (valueCount is < 0 or > int.MaxValue) throw ProtoWire.Malformed(MessageName, $"value_count {valueCount} is out of range");
            // An all-zero sparse chunk has no bytes, and proto3 omits an empty field: value_count alone stands for it.
            var bytes = sign ?? sparse ?? ReadOnlySequence<byte>.Empty;
            return new PushChunkFrame(header, offset, sign is null ? TensorEncoding.Sparse : TensorEncoding.Sign,
                ProtoWire.RentBytes(bytes), (int)bytes.Length, (int)valueCount);
        }
        var buffer = bfloat16 is { } half
            ? ProtoWire.RentBFloat16Tensor(half, MessageName, out var length)
            : ProtoWire.RentTensor(values, MessageName, out length);
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
        if (_compressed is { } bytes)
        {
            _compressed = null;
            _compressedLength = 0;
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
