using System.Buffers;

namespace GpuPs.Protocol;

/// <summary>
/// The wire form of <see cref="PullReply"/> with its <c>values</c> kept as float32 in a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/> instead of a protobuf <c>ByteString</c> (which would cost one tensor-sized allocation
/// and one extra copy per pull). <see cref="WriteTo"/> and <see cref="Parse"/> produce and accept exactly the protobuf
/// encoding of <c>PullReply</c>, so clients in other languages use the generated message.
/// </summary>
/// <remarks>
/// Ownership: the frame owns its buffer; <see cref="Dispose"/> returns it to the pool, after which <see cref="Values"/>
/// throws. A frame that is never disposed is simply collected (the pool loses one array). The server registers the frame
/// it returns for disposal when the HTTP request completes, after the response is written; the client disposes it after
/// copying the values into the caller's memory. Not thread-safe.
/// </remarks>
public sealed class PullFrame : IWireFrame, IDisposable
{
    private const string MessageName = nameof(PullReply);
    private float[]? _buffer;

    private PullFrame(float[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>A frame with a pooled buffer of <paramref name="length"/> floats (contents unspecified) and default header fields.</summary>
    public static PullFrame Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new PullFrame(ArrayPool<float>.Shared.Rent(length), length);
    }

    /// <summary>Step of the values: the number of updates the shard had applied.</summary>
    public long Step { get; set; }
    /// <summary>Index of the shard the values belong to.</summary>
    public int Shard { get; set; }
    /// <summary>Index of the shard's first parameter in the full parameter vector.</summary>
    public long Offset { get; set; }
    /// <summary>The job has run all its steps; these are the final parameters.</summary>
    public bool Finished { get; set; }

    /// <summary>Number of floats in <see cref="Values"/>.</summary>
    public int Length { get; }

    /// <summary>The shard's parameters (exactly <see cref="Length"/> floats).</summary>
    public Memory<float> Values => (_buffer ?? throw new ObjectDisposedException(nameof(PullFrame))).AsMemory(0, Length);

    /// <summary>The header fields as the transport-neutral <see cref="PullResult"/>.</summary>
    public PullResult Result => new(Step, Shard, Offset, Length, Finished);

    /// <summary>Size of the protobuf encoding in bytes.</summary>
    public int CalculateSize() =>
        ProtoWire.VarintFieldSize(Step) + ProtoWire.VarintFieldSize(Shard) + ProtoWire.VarintFieldSize(Offset) +
        ProtoWire.BytesFieldSize(checked(Length * sizeof(float))) + ProtoWire.VarintFieldSize(Finished ? 1 : 0);

    /// <summary>Writes the protobuf encoding of <c>PullReply</c>: fields 1-3, the tensor (4) straight from the pooled buffer, then 5.</summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        var remaining = CalculateSize();
        var values = ProtoWire.TensorBytes(Values.Span);
        Span<byte> scratch = stackalloc byte[ProtoWire.MaxScalarFieldsBytes + ProtoWire.MaxBytesFieldPrefix];
        var n = ProtoWire.WriteVarintField(scratch, 1, Step);
        n += ProtoWire.WriteVarintField(scratch[n..], 2, Shard);
        n += ProtoWire.WriteVarintField(scratch[n..], 3, Offset);
        n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 4, values.Length);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
        ProtoWire.Write(writer, values, ref remaining);
        n = ProtoWire.WriteVarintField(scratch, 5, Finished ? 1 : 0);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
    }

    /// <summary>
    /// Parses any valid protobuf encoding of <c>PullReply</c> (fields in any order, repeated fields last-wins, unknown fields
    /// skipped) into a new frame that owns a pooled buffer. Throws <see cref="GpuPs.Core.Shards.ShardException"/> (InvalidRequest) on malformed input.
    /// </summary>
    public static PullFrame Parse(ReadOnlySequence<byte> payload)
    {
        var reader = new ProtoReader(payload, MessageName);
        long step = 0, offset = 0;
        int shard = 0;
        var finished = false;
        var values = ReadOnlySequence<byte>.Empty;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1, ProtoWire.WireVarint): step = (long)reader.ReadVarint(); break;
                case (2, ProtoWire.WireVarint): shard = (int)reader.ReadVarint(); break;
                case (3, ProtoWire.WireVarint): offset = (long)reader.ReadVarint(); break;
                case (4, ProtoWire.WireLengthDelimited): values = reader.ReadLengthDelimited(); break;
                case (5, ProtoWire.WireVarint): finished = reader.ReadVarint() != 0; break;
                default: reader.Skip(field, wireType); break;
            }
        }
        var buffer = ProtoWire.RentTensor(values, MessageName, out var length);
        return new PullFrame(buffer, length) { Step = step, Shard = shard, Offset = offset, Finished = finished };
    }

    /// <summary>
    /// Returns the buffer to the pool; <see cref="Values"/> throws <see cref="ObjectDisposedException"/> afterwards.
    /// Calling it again does nothing.
    /// </summary>
    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<float>.Shared.Return(buffer);
        }
    }
}
