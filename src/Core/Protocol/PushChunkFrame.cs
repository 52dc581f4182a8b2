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
    public PushChunkFrame(in PushHeader header, long offset, ReadOnlyMemory<float> values)
    {
        Header = header;
        Offset = offset;
        Values = values;
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

    /// <summary>Size of the protobuf encoding in bytes.</summary>
    public int CalculateSize() =>
        ProtoWire.VarintFieldSize(Header.WorkerId) + ProtoWire.VarintFieldSize(Header.Step) + ProtoWire.VarintFieldSize(Header.Shard) +
        ProtoWire.VarintFieldSize(Offset) + ProtoWire.VarintFieldSize(Header.SampleCount) + ProtoWire.DoubleFieldSize(Header.LossSum) +
        ProtoWire.BytesFieldSize(checked(Values.Length * sizeof(float))) +
        ProtoWire.OptionalVarintFieldSize(Header.CodeRow) + ProtoWire.OptionalVarintFieldSize(Header.Partition);

    /// <summary>
    /// Writes the protobuf encoding of <c>PushChunk</c>: fields 1-6, the tensor (7) copied straight from <see cref="Values"/>,
    /// then the optional 8 and 9 when present.
    /// </summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        var remaining = CalculateSize();
        var values = ProtoWire.TensorBytes(Values.Span);
        Span<byte> scratch = stackalloc byte[ProtoWire.MaxScalarFieldsBytes + ProtoWire.MaxBytesFieldPrefix];
        var n = ProtoWire.WriteVarintField(scratch, 1, Header.WorkerId);
        n += ProtoWire.WriteVarintField(scratch[n..], 2, Header.Step);
        n += ProtoWire.WriteVarintField(scratch[n..], 3, Header.Shard);
        n += ProtoWire.WriteVarintField(scratch[n..], 4, Offset);
        n += ProtoWire.WriteVarintField(scratch[n..], 5, Header.SampleCount);
        n += ProtoWire.WriteDoubleField(scratch[n..], 6, Header.LossSum);
        n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 7, values.Length);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
        ProtoWire.Write(writer, values, ref remaining);
        n = ProtoWire.WriteOptionalVarintField(scratch, 8, Header.CodeRow);
        n += ProtoWire.WriteOptionalVarintField(scratch[n..], 9, Header.Partition);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
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
                case (7, ProtoWire.WireLengthDelimited): values = reader.ReadLengthDelimited(); break;
                case (8, ProtoWire.WireVarint): codeRow = (int)reader.ReadVarint(); break;
                case (9, ProtoWire.WireVarint): partition = (int)reader.ReadVarint(); break;
                default: reader.Skip(field, wireType); break;
            }
        }
        var buffer = ProtoWire.RentTensor(values, MessageName, out var length);
        return new PushChunkFrame(new PushHeader(workerId, step, shard, sampleCount, lossSum, codeRow, partition), offset, buffer, length);
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
