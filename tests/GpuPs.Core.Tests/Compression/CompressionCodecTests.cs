using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using GpuPs.Core.Compression;
using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Tests.Compression;

/// <summary>
/// The compressed encodings: exact round trips of what the compressors produce, the documented sizes, the protobuf bytes
/// of a compressed chunk, and refusals of bad messages that leave the destination untouched.
/// </summary>
public class CompressionCodecTests
{
    private static float[] Gaussian(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(CompressionKind.TopK, 10_000)]
    [InlineData(CompressionKind.TopK, 7)]
    [InlineData(CompressionKind.Sign, 10_000)]
    [InlineData(CompressionKind.Sign, 1_029)]
    public void What_a_compressor_keeps_round_trips_exactly_in_the_documented_bytes(CompressionKind kind, int n)
    {
        var values = Gaussian(n, n);
        values[3] = -0f;
        var compressor = new TensorCompressor(kind, new CompressionSettings(TopKRatio: 0.05));
        compressor.Round(values);

        var encoded = new byte[TensorCodec.EncodedBytes(compressor.Encoding, values)];
        Assert.Equal(encoded.Length, TensorCodec.Encode(compressor.Encoding, values, encoded));
        var decoded = new float[n];
        TensorCodec.Decode(compressor.Encoding, encoded, decoded);

        Assert.Equal(values.Select(BitConverter.SingleToUInt32Bits), decoded.Select(BitConverter.SingleToUInt32Bits));
        int expected = kind == CompressionKind.TopK
            ? 8 * (int)Math.Ceiling(0.05 * n)
            : 4 * ((n + 1023) / 1024) + (n + 7) / 8;
        Assert.Equal(expected, encoded.Length);
    }

    [Fact]
    public void Sign_rounding_gives_each_block_its_mean_magnitude_and_keeps_signs_within_each_segment()
    {
        var values = Enumerable.Range(0, 1024 + 8).Select(i => i % 2 == 0 ? (float)i : -(float)i).ToArray();
        var compressor = new TensorCompressor(CompressionKind.Sign, CompressionSettings.None);
        compressor.Round(values, [1024 + 4, 4]);

        float firstBlock = Enumerable.Range(0, 1024).Sum(i => (float)i) / 1024, tail = (1024 + 1025 + 1026 + 1027) / 4f;
        Assert.Equal(firstBlock, values[2]);
        Assert.Equal(-firstBlock, values[1]);
        Assert.Equal(tail, values[1024]);
        Assert.Equal(-(1028 + 1029 + 1030 + 1031) / 4f, values[1029]);   // the second segment starts its own block
        Assert.Throws<ArgumentException>(() => compressor.Round(values, [5]));
    }

    [Fact]
    public void Sign_encoding_refuses_a_tensor_it_cannot_carry_exactly()
    {
        var values = new float[] { 1, -1, 2 };
        Assert.Throws<ArgumentException>(() => SignCodec.Encode(values, new byte[SignCodec.EncodedBytes(3)]));
    }

    /// <summary>Bad encodings of 12 values.</summary>
    public static TheoryData<string, TensorEncoding, byte[], string> BadMessages => new()
    {
        { "not whole pairs", TensorEncoding.Sparse, new byte[12], "not whole (index, value) pairs" },
        { "more entries than values", TensorEncoding.Sparse, Sparse([.. Enumerable.Range(0, 13)], 1f), "13 entries for 12 values" },
        { "index out of range", TensorEncoding.Sparse, Sparse([2, 12], 1f), "index 12 (entry 1) is out of range 0..11" },
        { "duplicate index", TensorEncoding.Sparse, Sparse([2, 2], 1f), "a duplicate" },
        { "indices out of order", TensorEncoding.Sparse, Sparse([5, 3], 1f), "out of order" },
        { "NaN value", TensorEncoding.Sparse, Sparse([1], float.NaN), "not finite" },
        { "infinite value", TensorEncoding.Sparse, Sparse([1], float.PositiveInfinity), "not finite" },
        { "wrong length", TensorEncoding.Sign, new byte[7], "7 bytes for 12 values; 6 expected" },
        { "NaN scale", TensorEncoding.Sign, Sign(float.NaN, 0), "must be finite and not negative" },
        { "infinite scale", TensorEncoding.Sign, Sign(float.PositiveInfinity, 0), "must be finite and not negative" },
        { "negative scale", TensorEncoding.Sign, Sign(-1f, 0), "must be finite and not negative" },
        { "padding bits", TensorEncoding.Sign, Sign(1f, 0x10), "padding bits" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public void A_bad_message_is_refused_and_nothing_is_written(string _, TensorEncoding encoding, byte[] encoded, string reason)
    {
        var destination = Enumerable.Repeat(7f, 12).ToArray();
        var e = Assert.Throws<ShardException>(() => TensorCodec.Decode(encoding, encoded, destination));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(reason, e.Message);
        Assert.All(destination, v => Assert.Equal(7f, v));
    }

    [Theory]
    [InlineData(TensorEncoding.Sparse)]
    [InlineData(TensorEncoding.Sign)]
    public void A_compressed_chunk_is_the_protobuf_message_the_proto_describes_and_parses_back(TensorEncoding encoding)
    {
        var values = Gaussian(3000, 1);
        new TensorCompressor(encoding == TensorEncoding.Sparse ? CompressionKind.TopK : CompressionKind.Sign, new CompressionSettings(TopKRatio: 0.1)).Round(values);
        var header = new PushHeader(3, 9, 1, 64, 2.5, Partition: 2);
        var frame = new PushChunkFrame(header, 1024, values, encoding);
        var writer = new ArrayBufferWriter<byte>();
        frame.WriteTo(writer);
        Assert.Equal(frame.CalculateSize(), writer.WrittenCount);

        var message = PushChunk.Parser.ParseFrom(writer.WrittenSpan);
        Assert.Equal(3000, message.ValueCount);
        var encoded = encoding == TensorEncoding.Sparse ? message.SparseValues : message.SignValues;
        Assert.Equal(TensorCodec.EncodedBytes(encoding, values), encoded.Length);
        Assert.True(message.Values.IsEmpty && message.ValuesBf16.IsEmpty);
        Assert.Equal(2, message.Partition);
        Assert.Equal(writer.WrittenSpan.ToArray(), message.ToByteArray());   // byte for byte what protobuf writes

        using var parsed = PushChunkFrame.Parse(new ReadOnlySequence<byte>(writer.WrittenMemory));
        Assert.Equal((header, 1024L, 3000, encoding), (parsed.Header, parsed.Offset, parsed.Count, parsed.Encoding));
        var decoded = new float[3000];
        parsed.CopyTo(decoded);
        Assert.Equal(values, decoded);
    }

    [Fact]
    public void An_all_zero_sparse_chunk_is_its_value_count_alone()
    {
        var writer = new ArrayBufferWriter<byte>();
        new PushChunkFrame(new PushHeader(0, 1, 0, 1, 0), 0, new float[50], TensorEncoding.Sparse).WriteTo(writer);
        using var parsed = PushChunkFrame.Parse(new ReadOnlySequence<byte>(writer.WrittenMemory));
        var decoded = Enumerable.Repeat(1f, 50).ToArray();
        parsed.CopyTo(decoded);
        Assert.All(decoded, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_chunk_with_two_tensors_is_malformed()
    {
        var message = new PushChunk { WorkerId = 1, Values = ByteString.CopyFrom(new byte[8]), SparseValues = ByteString.CopyFrom(new byte[8]), ValueCount = 2 };
        var e = Assert.Throws<ShardException>(() => PushChunkFrame.Parse(new ReadOnlySequence<byte>(message.ToByteArray())));
        Assert.Contains("more than one of values", e.Message);
    }

    private static byte[] Sparse(int[] indices, float value)
    {
        var bytes = new byte[8 * indices.Length];
        for (int j = 0; j < indices.Length; j++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * j), (uint)indices[j]);
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * (indices.Length + j)), value);
        }
        return bytes;
    }

    /// <summary>The sign encoding of 12 values: one scale, then 2 bytes of signs (the second's upper 4 bits are padding).</summary>
    private static byte[] Sign(float scale, byte secondSignByte)
    {
        var bytes = new byte[4 + 2];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, scale);
        bytes[5] = secondSignByte;
        return bytes;
    }
}
