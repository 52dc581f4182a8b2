using System.Buffers;
using System.Runtime.InteropServices;
using Google.Protobuf;
using GpuPs.Protocol;
using GpuPs.Core.Shards;
using Grpc.Core;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// The raw tensor marshallers against Google.Protobuf as the oracle: same bytes out, same values in, for any valid encoding.
/// </summary>
public class MarshallerTests
{
    private static readonly Marshaller<PullFrame> PullMarshaller = ParameterServerMethods.Pull.ResponseMarshaller;
    private static readonly Marshaller<PushChunkFrame> PushMarshaller = ParameterServerMethods.Push.RequestMarshaller;

    public static TheoryData<int> Lengths => [0, 1, 3, 1000, 65_537, 262_144];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Pull_frame_bytes_equal_protobuf_and_parse_back_from_any_segmentation(int length)
    {
        var random = new Random(length);
        var values = RandomFloats(random, length);
        foreach (var (step, shard, offset, finished) in new[] { (0L, 0, 0L, false), (7L, 2, 123_456L, true), (long.MaxValue, -1, -5L, false) })
        {
            using var frame = PullFrame.Rent(length);
            values.CopyTo(frame.Values.Span);
            (frame.Step, frame.Shard, frame.Offset, frame.Finished) = (step, shard, offset, finished);
            var expected = new PullReply { Step = step, Shard = shard, Offset = offset, Finished = finished, Values = FloatBytes(values) }.ToByteArray();

            Assert.Equal(expected, Serialize(PullMarshaller, frame));
            Assert.Equal(expected, Serialize(PullMarshaller, frame, maxSpan: 7));

            using var parsed = Deserialize(PullMarshaller, Segmented(expected, RandomCuts(random, expected.Length, 13)));
            Assert.Equal(new PullResult(step, shard, offset, length, finished), parsed.Result);
            Assert.Equal(values, parsed.Values.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Push_chunk_bytes_equal_protobuf_and_parse_back_from_any_segmentation(int length)
    {
        var random = new Random(length + 1);
        var gradient = RandomFloats(random, length + 10);
        var headers = new[]
        {
            default,
            new PushHeader(3, 41, 2, 64, 12.5),
            new PushHeader(-1, long.MinValue, int.MaxValue, 1, double.NaN),
            new PushHeader(0, 1, 0, 0, -0.0), // -0.0 is omitted like 0, as Google.Protobuf does
            new PushHeader(2, 5, 1, 10, 3, CodeRow: 0, Partition: 0), // optional fields: present even when 0
            new PushHeader(2, 5, 1, 10, 3, CodeRow: -7, Partition: null),
            new PushHeader(2, 5, 1, 10, 3, CodeRow: null, Partition: 12),
        };
        foreach (var header in headers)
        {
            var offset = random.Next(0, 10);
            var slice = gradient.AsMemory(offset, length);
            var frame = new PushChunkFrame(header, offset, slice);
            var message = new PushChunk
            {
                WorkerId = header.WorkerId, Step = header.Step, Shard = header.Shard, Offset = offset,
                SampleCount = header.SampleCount, LossSum = header.LossSum, Values = FloatBytes(slice.ToArray()),
            };
            if (header.CodeRow is { } codeRow) message.CodeRow = codeRow;
            if (header.Partition is { } partition) message.Partition = partition;
            var expected = message.ToByteArray();

            Assert.Equal(expected, Serialize(PushMarshaller, frame));
            Assert.Equal(expected, Serialize(PushMarshaller, frame, maxSpan: 5));

            using var parsed = Deserialize(PushMarshaller, Segmented(expected, RandomCuts(random, expected.Length, 9)));
            Assert.Equal(header, parsed.Header);
            Assert.Equal(offset, parsed.Offset);
            Assert.Equal(slice.ToArray(), parsed.Values.ToArray());
        }
    }

    [Fact]
    public void Parsers_accept_any_field_order_duplicates_unknown_fields_and_mismatched_wire_types_like_protobuf()
    {
        var values = RandomFloats(new Random(5), 33);
        var bytes = Encode(o =>
        {
            o.WriteTag(99, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFromUtf8("unknown"));
            o.WriteTag(7, WireFormat.WireType.LengthDelimited); o.WriteBytes(FloatBytes([1f, 2f])); // replaced below: last wins
            o.WriteTag(6, WireFormat.WireType.Fixed64); o.WriteDouble(2.25);
            o.WriteTag(20, WireFormat.WireType.Fixed32); o.WriteFixed32(17);
            o.WriteTag(4, WireFormat.WireType.Varint); o.WriteInt64(100);
            o.WriteTag(21, WireFormat.WireType.StartGroup);
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(5);
            o.WriteTag(22, WireFormat.WireType.StartGroup); o.WriteTag(22, WireFormat.WireType.EndGroup);
            o.WriteTag(21, WireFormat.WireType.EndGroup);
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt32(2);
            o.WriteTag(2, WireFormat.WireType.Fixed64); o.WriteFixed64(9); // step with the wrong wire type: an unknown field
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(-4);
            o.WriteTag(7, WireFormat.WireType.LengthDelimited); o.WriteBytes(FloatBytes(values));
            o.WriteTag(5, WireFormat.WireType.Varint); o.WriteInt64(8);
            o.WriteTag(23, WireFormat.WireType.Fixed64); o.WriteDouble(1);
            o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt64(11);
            o.WriteTag(9, WireFormat.WireType.Varint); o.WriteInt32(3);
            o.WriteTag(8, WireFormat.WireType.Varint); o.WriteInt32(0);
        });
        var oracle = PushChunk.Parser.ParseFrom(bytes);

        using var frame = PushChunkFrame.Parse(Segmented(bytes, RandomCuts(new Random(6), bytes.Length, 3)));

        Assert.Equal(new PushHeader(oracle.WorkerId, oracle.Step, oracle.Shard, oracle.SampleCount, oracle.LossSum,
            oracle.HasCodeRow ? oracle.CodeRow : null, oracle.HasPartition ? oracle.Partition : null), frame.Header);
        Assert.Equal(new PushHeader(-4, 11, 2, 8, 2.25, CodeRow: 0, Partition: 3), frame.Header);
        Assert.Equal(oracle.Offset, frame.Offset);
        Assert.Equal(values, frame.Values.ToArray());

        var pullBytes = Encode(o =>
        {
            o.WriteTag(5, WireFormat.WireType.Varint); o.WriteBool(true);
            o.WriteTag(4, WireFormat.WireType.LengthDelimited); o.WriteBytes(FloatBytes(values));
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt64(-9);
            o.WriteTag(30, WireFormat.WireType.Varint); o.WriteUInt64(ulong.MaxValue);
            o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt32(-3);
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt64(12);
        });
        var pullOracle = PullReply.Parser.ParseFrom(pullBytes);
        using var pull = PullFrame.Parse(Segmented(pullBytes, 1, 2, 3, 50, 51));
        Assert.Equal(new PullResult(pullOracle.Step, pullOracle.Shard, pullOracle.Offset, pullOracle.Values.Length / 4, pullOracle.Finished), pull.Result);
        Assert.Equal(values, pull.Values.ToArray());
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Bfloat16_push_chunks_equal_protobuf_with_values_bf16_and_parse_back_rounded_to_nearest(int length)
    {
        var random = new Random(length + 3);
        var values = RandomFloats(random, length);
        var header = new PushHeader(2, 5, 1, 10, 3, CodeRow: null, Partition: 4);
        var frame = new PushChunkFrame(header, 7, values, TensorEncoding.BFloat16);
        var half = new byte[2 * length];
        BFloat16.Encode(values, half);
        var expected = new PushChunk
        {
            WorkerId = 2, Step = 5, Shard = 1, Offset = 7, SampleCount = 10, LossSum = 3, Partition = 4, ValuesBf16 = ByteString.CopyFrom(half),
        }.ToByteArray();

        Assert.Equal(expected, Serialize(PushMarshaller, frame));
        Assert.Equal(expected, Serialize(PushMarshaller, frame, maxSpan: 5));
        using var parsed = Deserialize(PushMarshaller, Segmented(expected, RandomCuts(random, expected.Length, 9)));
        Assert.Equal(header, parsed.Header);
        Assert.Equal(values.Select(BFloat16.Round).ToArray(), parsed.Values.ToArray());
    }

    [Fact]
    public void A_node_push_chunk_carries_its_contributors_like_protobuf_packed_and_unpacked()
    {
        var random = new Random(43);
        var values = RandomFloats(random, 100);
        var header = new PushHeader(300, 5, 1, 10, 3, CodeRow: 300, Contributors: new ContributorList([300, 2, 128, 0]));
        var frame = new PushChunkFrame(header, 0, values);
        var message = new PushChunk { WorkerId = 300, Step = 5, Shard = 1, SampleCount = 10, LossSum = 3, CodeRow = 300, Values = FloatBytes(values) };
        message.Contributors.Add([300, 2, 128, 0]);
        var expected = message.ToByteArray();

        Assert.Equal(expected, Serialize(PushMarshaller, frame));
        using var parsed = Deserialize(PushMarshaller, Segmented(expected, RandomCuts(random, expected.Length, 9)));
        Assert.Equal(header, parsed.Header);
        Assert.Equal([300, 2, 128, 0], parsed.Header.Contributors!.Ids.ToArray());
        // A writer that does not pack the repeated field (allowed by protobuf) is read the same.
        var unpacked = new byte[] { 0x08, 0xAC, 0x02, 0xD8, 0x02, 0xAC, 0x02, 0xD8, 0x02, 0x02, 0x3A, 0x04, 0, 0, 0x80, 0x3F };
        using var loose = Deserialize(PushMarshaller, Segmented(unpacked, [3]));
        Assert.Equal([300, 2], loose.Header.Contributors!.Ids.ToArray());
        Assert.Null(new PushChunkFrame(new PushHeader(1, 0, 0, 1, 0), 0, values).Header.Contributors);
    }

    [Theory]
    [InlineData(1.0f, 1.0f)]
    [InlineData(1.00390625f, 1.0f)]        // exactly halfway between 1 and 1 + 2^-7: ties to the even mantissa (1)
    [InlineData(1.01171875f, 1.015625f)]   // halfway between 1 + 2^-7 (odd) and 1 + 2^-6: ties to even, upwards
    [InlineData(1.0039064f, 1.0078125f)]   // just above halfway: rounds up
    [InlineData(-3e38f, -3.0040553e38f)]
    public void Bfloat16_rounds_to_the_nearest_value_ties_to_even(float value, float expected) =>
        Assert.Equal(expected, BFloat16.Round(value));

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "values not whole floats", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4, 5, 6, 7) }.ToByteArray(), "7 bytes, not a multiple of 4" },
        { "values_bf16 not whole bfloat16s", new PushChunk { ValuesBf16 = ByteString.CopyFrom(1, 2, 3) }.ToByteArray(), "3 bytes, not a multiple of 2" },
        { "both encodings", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), ValuesBf16 = ByteString.CopyFrom(1, 2) }.ToByteArray(), "both values and values_bf16" },
        { "truncated varint", [0x08, 0x80], "truncated varint" },
        { "truncated tag", [0x80], "truncated varint" },
        { "over-long varint", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "longer than 10 bytes" },
        { "bytes past the end", [0x3A, 0x08, 0, 0, 0, 0], "runs past the end" },
        { "truncated double", [0x31, 0, 0, 0], "truncated fixed64 field" },
        { "truncated unknown fixed32", [0xA5, 0x01, 0, 0], "truncated fixed-size field" },
        { "field number 0", [0x00, 0x01], "field number 0" },
        { "invalid wire type", [0x0E, 0x01], "invalid wire type 6" },
        { "unmatched end group", [0x0C], "invalid wire type 4" },
        { "unclosed group", [0x0B, 0x08, 0x01], "group 1 is not closed" },
        { "group closed by another field", [0x0B, 0x14], "closed by end-group 2" },
        { "groups nested too deep", [.. Enumerable.Repeat((byte)0x0B, 200)], "nested deeper than 100" },
        { "piece offset negative", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), PieceOffset = -1, PieceLength = 1 }.ToByteArray(), "piece [-1, +1) is out of range" },
        { "piece length beyond int", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), PieceLength = 1L << 31 }.ToByteArray(), "piece [0, +2147483648) is out of range" },
        { "piece offset beyond int", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), PieceOffset = 1L << 31, PieceLength = 1 }.ToByteArray(), "piece [2147483648, +1) is out of range" },
        { "sparse beside values", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), SparseValues = ByteString.CopyFrom(new byte[8]) }.ToByteArray(), "more than one of values, values_bf16, sparse_values and sign_values" },
        { "sparse and sign", new PushChunk { SparseValues = ByteString.CopyFrom(new byte[8]), SignValues = ByteString.CopyFrom(new byte[5]), ValueCount = 1 }.ToByteArray(), "more than one of values" },
        { "value_count beside float32", new PushChunk { Values = ByteString.CopyFrom(1, 2, 3, 4), ValueCount = 1 }.ToByteArray(), "value_count is set beside float32 or bfloat16 values" },
        { "value_count beside bfloat16", new PushChunk { ValuesBf16 = ByteString.CopyFrom(1, 2), ValueCount = 1 }.ToByteArray(), "value_count is set beside float32 or bfloat16 values" },
        { "value_count negative", new PushChunk { ValueCount = -1 }.ToByteArray(), "value_count -1 is out of range" },
        { "value_count beyond int", new PushChunk { SignValues = ByteString.CopyFrom(new byte[5]), ValueCount = 1L << 31 }.ToByteArray(), "value_count 2147483648 is out of range" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_push_chunks_are_refused_as_invalid_argument(string _, byte[] bytes, string problem)
    {
        var e = Assert.Throws<ShardException>(() => Deserialize(PushMarshaller, Segmented(bytes, 1)));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.StartsWith("Malformed PushChunk message: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Malformed_pull_replies_are_refused_as_invalid_argument()
    {
        var bytes = new PullReply { Step = 1, Values = ByteString.CopyFrom(new byte[10]) }.ToByteArray();
        var e = Assert.Throws<ShardException>(() => Deserialize(PullMarshaller, new ReadOnlySequence<byte>(bytes)));
        Assert.Equal("Malformed PullReply message: values field has 10 bytes, not a multiple of 4 (float32).", e.Message);
    }

    [Fact]
    public void Unary_messages_marshal_as_protobuf_and_the_served_descriptors_keep_the_names_and_take_malformed_bytes_as_a_malformation()
    {
        var request = new RegisterRequest { RequestedWorkerId = 3, Host = "node-7", MeasuredSpeed = 1234.5, ClientToken = "t" };
        var expected = request.ToByteArray();
        var reply = new HeartbeatReply { Step = 12 };

        Assert.Equal(expected, Serialize(ParameterServerMethods.Register.RequestMarshaller, request, maxSpan: 5));
        Assert.Equal(request, Deserialize(ParameterServerMethods.Register.RequestMarshaller, Segmented(expected, 2, 9)));
        Assert.Equal(reply.ToByteArray(), Serialize(ParameterServerMethods.Served.Heartbeat.ResponseMarshaller, reply));

        var served = ParameterServerMethods.Served.Register;
        Assert.Equal((MethodType.Unary, "/gpups.v1.ParameterServer/Register"), (served.Type, served.FullName));
        var received = Deserialize(served.RequestMarshaller, Segmented(expected, 4));
        Assert.Equal(request, received.Value);
        Assert.Equal(expected, Serialize(served.RequestMarshaller, received));
        var malformed = Deserialize(served.RequestMarshaller, new ReadOnlySequence<byte>([0x0A, 0x05, 0x01]));
        Assert.Null(malformed.Message);
        Assert.StartsWith("Malformed RegisterRequest message: ", malformed.Malformation);
        Assert.Equal(ShardErrorKind.InvalidRequest, Assert.Throws<ShardException>(() => malformed.Value).Kind);
    }

    [Fact]
    public void Disposed_frames_give_their_buffer_back_and_refuse_access()
    {
        var frame = PullFrame.Rent(4);
        frame.Dispose();
        frame.Dispose();
        Assert.Throws<ObjectDisposedException>(() => frame.Values);

        var chunk = PushChunkFrame.Parse(new ReadOnlySequence<byte>(new PushChunk { Values = FloatBytes([1f]) }.ToByteArray()));
        chunk.Dispose();
        Assert.True(chunk.Values.IsEmpty);
    }

    private static ByteString FloatBytes(float[] values) => ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));

    private static byte[] Encode(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return stream.ToArray();
    }
}
