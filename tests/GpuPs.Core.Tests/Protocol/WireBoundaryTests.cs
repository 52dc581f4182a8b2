using System.Buffers;
using Google.Protobuf;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// Boundaries of the wire codecs that Stryker found untested: a NaN whose payload lies in the bits bfloat16 drops, sign
/// blocks and bits at their edges, a fixed-size field that ends the message, an assignment's speeds at zero, the piece flag.
/// </summary>
public class WireBoundaryTests
{
    [Theory]
    [InlineData(0x7FC00000u)]   // the quiet NaN
    [InlineData(0x7F800001u)]   // a NaN whose payload is only in the low 16 bits: rounding alone would make it infinite
    [InlineData(0xFF800001u)]
    public void A_nan_stays_a_nan_in_bfloat16(uint bits)
    {
        var nan = BitConverter.UInt32BitsToSingle(bits);

        Assert.True(float.IsNaN(BFloat16.Round(nan)));
        Assert.Equal(bits >> 31, BitConverter.SingleToUInt32Bits(BFloat16.Round(nan)) >> 31);   // and keeps its sign
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1023, 1, 128)]
    [InlineData(1024, 1, 128)]
    [InlineData(1025, 2, 129)]
    public void Sign_blocks_and_bits_are_counted_at_the_block_edges(int count, int blocks, int signBytes)
    {
        Assert.Equal(blocks, SignCodec.Blocks(count));
        Assert.Equal(4 * blocks + signBytes, SignCodec.EncodedBytes(count));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(13)]
    [InlineData(1031)]
    public void Signs_of_the_last_partial_byte_survive_the_round_trip(int count)
    {
        // Negative values at the tail's positions too, so every bit of the last byte matters.
        var values = Enumerable.Range(0, count).Select(i => (i % 3 == 1 || i >= count - 3 ? -0.5f : 0.5f) * (i < SignCodec.BlockSize ? 1 : 2)).ToArray();
        var encoded = new byte[SignCodec.EncodedBytes(count)];
        SignCodec.Encode(values, encoded);
        var decoded = new float[count];
        SignCodec.Decode(encoded, decoded);

        Assert.Equal(values, decoded);
    }

    [Theory]
    [InlineData(0x31)]   // field 6 (loss_sum), fixed64: read
    [InlineData(0xA1)]   // field 20, unknown fixed64: skipped
    [InlineData(0xA5)]   // field 20, unknown fixed32: skipped
    public void A_fixed_size_field_that_ends_the_message_is_taken(byte tag)
    {
        // The values, then the fixed-size field alone, last, its bytes exactly the message's rest.
        byte[] value = tag == 0xA5 ? BitConverter.GetBytes(2.5f) : BitConverter.GetBytes(2.5);
        byte[] bytes = [.. new PushChunk { WorkerId = 1, Values = ByteString.CopyFrom(new byte[4]) }.ToByteArray(), tag, .. tag == 0x31 ? [] : new byte[] { 0x01 }, .. value];

        using var frame = PushChunkFrame.Parse(new ReadOnlySequence<byte>(bytes));

        Assert.Equal(tag == 0x31 ? 2.5 : 0, frame.Header.LossSum);
        Assert.Equal(1, frame.Header.WorkerId);
    }

    [Theory]
    [InlineData(0, 1.0, "version must be at least 1 (got 0)")]
    [InlineData(1, 0.0, "must carry 2 finite speeds > 0 (got [1, 0])")]
    [InlineData(1, -1.0, "finite speeds > 0")]
    [InlineData(1, double.PositiveInfinity, "finite speeds > 0")]
    public void An_assignment_without_a_version_or_with_a_speed_not_above_zero_is_refused(long version, double speed, string message)
    {
        var wire = new Assignment { Version = version, FromStep = 3 };
        wire.Speeds.AddRange([1.0, speed]);

        Assert.Contains(message, Assert.Throws<ArgumentException>(() => AssignmentWire.FromWire(wire, workers: 2)).Message);
        wire.Speeds[1] = 0.5;
        wire.Version = 1;
        Assert.Equal([1.0, 0.5], AssignmentWire.FromWire(wire, workers: 2).Speeds);
    }

    [Fact]
    public void A_push_in_pieces_is_flagged_as_one_and_a_whole_push_is_not()
    {
        var piece = FrameAnswers.PushFrame(new PushHeader(0, 1, 0, 1, 0, Piece: new PieceRange(4, 8)), 32, TensorEncoding.Float32);
        var whole = FrameAnswers.PushFrame(new PushHeader(0, 1, 0, 1, 0), 32, TensorEncoding.Float32);

        Assert.True(piece.Flags.HasFlag(FrameFlags.Piece));
        Assert.False(whole.Flags.HasFlag(FrameFlags.Piece));
    }
}
