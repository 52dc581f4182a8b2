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
    private const int SparseField = 80, SignField = 81, ViewVersionField = 82, CountField = 83;
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

    /// <summary>Compressed pulls: the version of the worker's copy these values bring it to (0: none kept).</summary>
    public long ViewVersion { get; set; }

    /// <summary>
    /// How the values travel: float32 (the parameters, field 4), or sparse or sign (fields 80, 81: a delta to the
    /// worker's copy, which <see cref="Values"/> must hold rounded to that encoding, as <c>TensorCompressor</c> leaves it).
    /// </summary>
    public TensorEncoding Encoding { get; set; }

    private bool Compressed => TensorCodec.IsCompressed(Encoding);
    private int _encodedBytes = -1;
    private int EncodedBytes => _encodedBytes >= 0 ? _encodedBytes : _encodedBytes = TensorCodec.EncodedBytes(Encoding, Values.Span);

    /// <summary>Number of floats in <see cref="Values"/>.</summary>
    public int Length { get; }

    /// <summary>The shard's parameters (exactly <see cref="Length"/> floats).</summary>
    public Memory<float> Values => (_buffer ?? throw new ObjectDisposedException(nameof(PullFrame))).AsMemory(0, Length);

    /// <summary>The header fields as the transport-neutral <see cref="PullResult"/>.</summary>
    public PullResult Result => new(Step, Shard, Offset, Length, Finished, ViewVersion, Encoding);

    /// <summary>Size of the protobuf encoding in bytes.</summary>
    public int CalculateSize() =>
        ProtoWire.VarintFieldSize(Step) + ProtoWire.VarintFieldSize(Shard) + ProtoWire.VarintFieldSize(Offset) +
        (Compressed ? 0 : ProtoWire.BytesFieldSize(checked(Length * sizeof(float)))) + ProtoWire.VarintFieldSize(Finished ? 1 : 0) +
        (Compressed ? ProtoWire.TaggedBytesFieldSize(Encoding == TensorEncoding.Sparse ? SparseField : SignField, EncodedBytes) : 0) +
        ProtoWire.TaggedVarintFieldSize(ViewVersionField, ViewVersion) + (Compressed ? ProtoWire.TaggedVarintFieldSize(CountField, Length) : 0);

    /// <summary>
    /// Writes the protobuf encoding of <c>PullReply</c>: fields 1-3, the tensor (4) straight from the pooled buffer, then 5;
    /// a compressed reply the encoded delta (80 or 81) in place of 4, then 82 and 83.
    /// </summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        var remaining = CalculateSize();
        var values = ProtoWire.TensorBytes(Values.Span);
        Span<byte> scratch = stackalloc byte[ProtoWire.MaxScalarFieldsBytes + ProtoWire.MaxBytesFieldPrefix];
        var n = ProtoWire.WriteVarintField(scratch, 1, Step);
        n += ProtoWire.WriteVarintField(scratch[n..], 2, Shard);
        n += ProtoWire.WriteVarintField(scratch[n..], 3, Offset);
        if (!Compressed)
        {
            n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], 4, values.Length);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, values, ref remaining);
            n = 0;
        }
        n += ProtoWire.WriteVarintField(scratch[n..], 5, Finished ? 1 : 0);
        if (Compressed)
        {
            var encoded = ArrayPool<byte>.Shared.Rent(EncodedBytes);
            TensorCodec.Encode(Encoding, Values.Span, encoded);
            n += ProtoWire.WriteBytesFieldPrefix(scratch[n..], Encoding == TensorEncoding.Sparse ? SparseField : SignField, EncodedBytes);
            ProtoWire.Write(writer, scratch[..n], ref remaining);
            ProtoWire.Write(writer, encoded.AsSpan(0, EncodedBytes), ref remaining);
            ArrayPool<byte>.Shared.Return(encoded);
            n = 0;
        }
        n += ProtoWire.WriteVarintField(scratch[n..], ViewVersionField, ViewVersion);
        if (Compressed) n += ProtoWire.WriteVarintField(scratch[n..], CountField, Length);
        ProtoWire.Write(writer, scratch[..n], ref remaining);
    }

    /// <summary>
    /// Parses any valid protobuf encoding of <c>PullReply</c> (fields in any order, repeated fields last-wins, unknown fields
    /// skipped) into a new frame that owns a pooled buffer. Throws <see cref="GpuPs.Core.Shards.ShardException"/> (InvalidRequest) on malformed input.
    /// </summary>
    public static PullFrame Parse(ReadOnlySequence<byte> payload)
    {
        var reader = new ProtoReader(payload, MessageName);
        long step = 0, offset = 0, viewVersion = 0, count = 0;
        int shard = 0;
        var finished = false;
        var values = ReadOnlySequence<byte>.Empty;
        ReadOnlySequence<byte>? sparse = null, sign = null;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1, ProtoWire.WireVarint): step = (long)reader.ReadVarint(); break;
                case (2, ProtoWire.WireVarint): shard = (int)reader.ReadVarint(); break;
                case (3, ProtoWire.WireVarint): offset = (long)reader.ReadVarint(); break;
                case (4, ProtoWire.WireLengthDelimited): values = reader.ReadLengthDelimited(); break;
                case (5, ProtoWire.WireVarint): finished = reader.ReadVarint() != 0; break;
                case (SparseField, ProtoWire.WireLengthDelimited): sparse = reader.ReadLengthDelimited(); break;
                case (SignField, ProtoWire.WireLengthDelimited): sign = reader.ReadLengthDelimited(); break;
                case (ViewVersionField, ProtoWire.WireVarint): viewVersion = (long)reader.ReadVarint(); break;
                case (CountField, ProtoWire.WireVarint): count = (long)reader.ReadVarint(); break;
                default: reader.Skip(field, wireType); break;
            }
        }
        if (sparse is null && sign is null && count == 0)
        {
            var buffer = ProtoWire.RentTensor(values, MessageName, out var length);
            return new PullFrame(buffer, length) { Step = step, Shard = shard, Offset = offset, Finished = finished, ViewVersion = viewVersion };
        }
        // A compressed delta (an all-zero sparse one is value_count alone: proto3 omits an empty field).
        if (!values.IsEmpty || (sparse is not null && sign is not null))
            throw ProtoWire.Malformed(MessageName, "more than one of values, sparse_values and sign_values is set");
        if (count is < 0 or > int.MaxValue) throw ProtoWire.Malformed(MessageName, $"value_count {count} is out of range");
        var encoding = sign is null ? TensorEncoding.Sparse : TensorEncoding.Sign;
        var bytes = sign ?? sparse ?? ReadOnlySequence<byte>.Empty;
        var encoded = ProtoWire.RentBytes(bytes);
        var frame = Rent((int)count);
        try
        {
            TensorCodec.Decode(encoding, encoded.AsSpan(0, (int)bytes.Length), frame.Values.Span);
        }
        catch
        {
            frame.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(encoded);
        }
        (frame.Step, frame.Shard, frame.Offset, frame.Finished, frame.ViewVersion, frame.Encoding) = (step, shard, offset, finished, viewVersion, encoding);
        return frame;
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
