using System.Buffers;
using Google.Protobuf;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// A compressed pull reply (a sparse or sign delta in field 80 or 81, the shard's length in 83, no field 4) against
/// Google.Protobuf as the oracle: the bytes written are the message protobuf reads, and they parse back to the same values;
/// a reply that sets more than one tensor or a count out of range is refused.
/// </summary>
public class CompressedPullFrameTests
{
    private static byte[] Write(PullFrame frame)
    {
        var writer = new ArrayBufferWriter<byte>();
        frame.WriteTo(writer);
        Assert.Equal(frame.CalculateSize(), writer.WrittenCount);
        return writer.WrittenSpan.ToArray();
    }

    private static PullFrame Frame(float[] values, TensorEncoding encoding)
    {
        var frame = PullFrame.Rent(values.Length);
        values.CopyTo(frame.Values.Span);
        (frame.Step, frame.Shard, frame.Offset, frame.ViewVersion, frame.Finished, frame.Encoding) = (12, 1, 4096, 5, true, encoding);
        return frame;
    }

    public static TheoryData<TensorEncoding> Encodings => [TensorEncoding.Sparse, TensorEncoding.Sign];

    [Theory]
    [MemberData(nameof(Encodings))]
    public void A_compressed_delta_is_the_message_protobuf_reads_and_parses_back_exactly(TensorEncoding encoding)
    {
        // Sign: one magnitude per 1,024-value block; sparse: a few non-zeros among zeros.
        var values = Enumerable.Range(0, 2500).Select(i => encoding == TensorEncoding.Sign
            ? (i % 3 == 0 ? -1f : 1f) * (i < SignCodec.BlockSize ? 0.5f : 0.25f)
            : i % 97 == 0 ? i * 0.01f - 3 : 0f).ToArray();
        using var frame = Frame(values, encoding);

        var bytes = Write(frame);
        var oracle = PullReply.Parser.ParseFrom(bytes);
        using var parsed = PullFrame.Parse(Segmented(bytes, 3, 40, bytes.Length / 2));

        Assert.True(oracle.Values.IsEmpty);
        Assert.Equal(TensorCodec.EncodedBytes(encoding, values), (encoding == TensorEncoding.Sparse ? oracle.SparseValues : oracle.SignValues).Length);
        Assert.True((encoding == TensorEncoding.Sparse ? oracle.SignValues : oracle.SparseValues).IsEmpty);
        Assert.Equal((12L, 1, 4096L, true, 5L, (long)values.Length), (oracle.Step, oracle.Shard, oracle.Offset, oracle.Finished, oracle.ViewVersion, oracle.ValueCount));
        Assert.Equal(new PullResult(12, 1, 4096, values.Length, true, 5, encoding), parsed.Result);
        Assert.Equal(values, parsed.Values.ToArray());
    }

    [Fact]
    public void An_all_zero_sparse_delta_is_its_count_alone_and_parses_to_zeros()
    {
        using var frame = Frame(new float[300], TensorEncoding.Sparse);

        var bytes = Write(frame);
        var oracle = PullReply.Parser.ParseFrom(bytes);
        using var parsed = PullFrame.Parse(new ReadOnlySequence<byte>(bytes));

        Assert.True(oracle.SparseValues.IsEmpty && oracle.Values.IsEmpty);
        Assert.Equal(300, oracle.ValueCount);
        Assert.Equal(TensorEncoding.Sparse, parsed.Encoding);
        Assert.Equal(new float[300], parsed.Values.ToArray());
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "values and sparse", "more than one of values, sparse_values and sign_values" },
        { "sparse and sign", "more than one of values, sparse_values and sign_values" },
        { "negative count", "value_count -1 is out of range" },
        { "count beyond int", "value_count 2147483648 is out of range" },
        { "sign of the wrong length", "sign values of" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_reply_with_two_tensors_or_a_count_out_of_range_is_refused(string fault, string message)
    {
        var sign = new byte[SignCodec.EncodedBytes(8)];
        BitConverter.GetBytes(0.5f).CopyTo(sign, 0);
        var reply = new PullReply { Step = 3, ValueCount = 8, SignValues = ByteString.CopyFrom(sign) };
        switch (fault)
        {
            case "values and sparse": (reply.SignValues, reply.Values, reply.SparseValues) = (ByteString.Empty, ByteString.CopyFrom(new byte[32]), ByteString.CopyFrom(new byte[8])); break;
            case "sparse and sign": reply.SparseValues = ByteString.CopyFrom(new byte[8]); break;
            case "negative count": reply.ValueCount = -1; break;
            case "count beyond int": reply.ValueCount = 1L << 31; break;
            case "sign of the wrong length": reply.ValueCount = 100; break;
        }

        var e = Assert.Throws<ShardException>(() => PullFrame.Parse(new ReadOnlySequence<byte>(reply.ToByteArray())));

        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(message, e.Message);
        // The well-formed reply the faults were made from parses.
        using var good = PullFrame.Parse(new ReadOnlySequence<byte>(new PullReply { Step = 3, ValueCount = 8, SignValues = ByteString.CopyFrom(sign) }.ToByteArray()));
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f], good.Values.ToArray());
    }
}
