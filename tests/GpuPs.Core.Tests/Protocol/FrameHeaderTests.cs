using System.IO.Hashing;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>The data plane's frame codec: exact layout, round trips, checksums that catch any flipped bit, and refusals.</summary>
public class FrameHeaderTests
{
    [Fact]
    public void Header_round_trips_through_its_56_bytes_at_the_documented_offsets()
    {
        var header = FrameHeader.Of(FrameKind.Push);
        (header.Step, header.Worker, header.Shard, header.Part, header.Length, header.Count, header.Loss, header.Flags) =
            (0x0102030405060708, 7, 2, 5, 4096, 1234, 2.5, FrameFlags.CodeRow | FrameFlags.BFloat16);
        header.Seal(new XxHash3(), new byte[4096]);
        var bytes = new byte[FrameHeader.Size];
        header.WriteTo(bytes);

        Assert.Equal("GPSF"u8.ToArray(), bytes[..4]);
        Assert.Equal(FrameHeader.CurrentVersion, bytes[4]);
        Assert.Equal((byte)FrameKind.Push, bytes[5]);
        Assert.Equal(0x08, bytes[8]);   // step, little-endian
        Assert.Equal(7, BitConverter.ToInt32(bytes, 16));
        Assert.Equal(2, BitConverter.ToInt32(bytes, 20));
        Assert.Equal(5, BitConverter.ToInt32(bytes, 24));
        Assert.Equal(4096, BitConverter.ToInt32(bytes, 28));
        Assert.Equal(1234, BitConverter.ToInt64(bytes, 32));
        Assert.Equal(2.5, BitConverter.ToDouble(bytes, 40));
        Assert.Equal(header.Checksum, BitConverter.ToUInt64(bytes, 48));
        Assert.Equal(header, FrameHeader.Read(bytes));
        Assert.Equal("Push frame (step 72623859790382856, worker 7, shard 2, part 5, 4096 bytes, flags BFloat16, CodeRow)", header.ToString());
    }

    [Fact]
    public void Any_flipped_bit_in_the_header_or_the_payload_fails_the_checksum()
    {
        var random = new Random(3);
        var payload = new byte[1000];
        random.NextBytes(payload);
        var header = FrameAnswers.PushFrame(new PushHeader(1, 9, 0, 10, 0.5), payload.Length, TensorEncoding.Float32);
        var hash = new XxHash3();
        header.Seal(hash, payload);
        Verify(header, payload);   // intact: passes

        for (int trial = 0; trial < 200; trial++)
        {
            var bytes = new byte[FrameHeader.Size];
            header.WriteTo(bytes);
            var body = (byte[])payload.Clone();
            int bit = random.Next((FrameHeader.ChecksummedBytes + body.Length) * 8);
            if (bit < FrameHeader.ChecksummedBytes * 8) bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            else body[bit / 8 - FrameHeader.ChecksummedBytes] ^= (byte)(1 << (bit % 8));
            var e = Assert.Throws<ShardException>(() => Verify(FrameHeader.Read(bytes), body));
            Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
            Assert.Contains("checksum", e.Message);
        }
    }

    [Fact]
    public void The_checksum_is_xxh3_of_header_bytes_0_to_47_and_the_payload_whatever_the_hash_held_before()
    {
        var payload = new byte[3000];
        new Random(4).NextBytes(payload);
        var header = FrameAnswers.PushFrame(new PushHeader(1, 9, 0, 10, 0.5), payload.Length, TensorEncoding.Float32);
        var segmented = header;
        var used = new XxHash3();
        used.Append("left over from the last frame"u8);
        header.Seal(used, payload);
        used.Append("left over from the last frame"u8);
        segmented.Seal(used, Segmented(payload, 1000, 2500));
        var bytes = new byte[FrameHeader.Size];
        header.WriteTo(bytes);

        // The reference is the documented layout hashed in one call, not the header's own checksum code.
        var expected = XxHash3.HashToUInt64([.. bytes[..FrameHeader.ChecksummedBytes], .. payload]);
        Assert.Equal(expected, header.Checksum);
        Assert.Equal(expected, segmented.Checksum);
        used.Append("left over from the last frame"u8);
        header.BeginChecksum(used);
        used.Append(payload);
        header.VerifyChecksum(used);
    }

    [Theory]
    [InlineData(0u, FrameHeader.CurrentVersion, FrameKind.Push, 10, "not a GpuPs data-plane frame")]
    [InlineData(FrameHeader.Magic, (byte)2, FrameKind.Push, 10, "version 2 is not supported")]
    [InlineData(FrameHeader.Magic, FrameHeader.CurrentVersion, (FrameKind)99, 10, "kind 99 is unknown")]
    [InlineData(FrameHeader.Magic, FrameHeader.CurrentVersion, FrameKind.Push, 101, "101 payload bytes is refused: the limit for it is 100 bytes")]
    [InlineData(FrameHeader.Magic, FrameHeader.CurrentVersion, FrameKind.Push, -1, "-1 payload bytes is refused")]
    public void Validate_refuses_what_the_header_alone_shows_is_wrong(uint magic, byte version, FrameKind kind, int length, string message)
    {
        var header = new FrameHeader { MagicValue = magic, Version = version, Kind = kind, Length = length };
        var e = Assert.Throws<ShardException>(() => header.Validate(maxPayload: 100));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Validate_refuses_flag_bits_this_version_does_not_define_and_takes_every_defined_one()
    {
        var header = FrameHeader.Of(FrameKind.Push) with { Length = 10, Flags = FrameFlags.BFloat16 | (FrameFlags)(1 << 15) };
        var e = Assert.Throws<ShardException>(() => header.Validate(maxPayload: 100));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains("unknown flag bits 0x8000", e.Message);

        (header with { Flags = Enum.GetValues<FrameFlags>().Aggregate((all, flag) => all | flag) }).Validate(maxPayload: 100);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(3, null)]
    [InlineData(null, 4)]
    public void Push_headers_round_trip_with_their_code_row_or_partition(int? codeRow, int? partition)
    {
        var push = new PushHeader(5, 17, 1, 360, 12.25, codeRow, partition);
        var frame = FrameAnswers.PushFrame(push, 400, TensorEncoding.BFloat16);
        Assert.Equal(push, FrameAnswers.PushOf(frame));
        Assert.Equal(TensorEncoding.BFloat16, FrameAnswers.EncodingOf(frame));
        Assert.Equal(400, frame.Length);
    }

    [Fact]
    public void A_push_flagging_both_a_code_row_and_a_partition_is_refused()
    {
        var frame = FrameAnswers.PushFrame(new PushHeader(0, 0, 0, 1, 0, CodeRow: 1), 4, TensorEncoding.Float32);
        frame.Flags |= FrameFlags.Partition;
        Assert.Equal(ShardErrorKind.InvalidRequest, Assert.Throws<ShardException>(() => FrameAnswers.PushOf(frame)).Kind);
    }

    public static TheoryData<PushOutcome> Outcomes => new()
    {
        PushOutcome.Applied(4, closedStep: true, jobFinished: false),
        PushOutcome.Applied(9, closedStep: true, jobFinished: true),
        PushOutcome.Late(6, "step 5 closed without it"),
        PushOutcome.Duplicate(6, "already pushed"),
        PushOutcome.Finished(100, "the job is over"),
        PushOutcome.Refused(2, "staleness bound"),
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void Push_outcomes_round_trip(PushOutcome outcome)
    {
        var frame = FrameAnswers.PushReplyFrame(outcome, shard: 0);
        Assert.Equal(outcome, FrameAnswers.OutcomeOf(frame, outcome.Reason));
    }

    [Theory]
    [InlineData(ShardErrorKind.InvalidRequest)]
    [InlineData(ShardErrorKind.UnknownWorker)]
    [InlineData(ShardErrorKind.Timeout)]
    [InlineData(ShardErrorKind.Unauthenticated)]
    public void Errors_round_trip_with_the_address_in_front(ShardErrorKind kind)
    {
        var e = FrameAnswers.ErrorOf(FrameAnswers.ErrorFrame(kind, shard: 1), "what went wrong", "tcp://h:1");
        Assert.Equal(kind, e.Kind);
        Assert.Equal("tcp://h:1: what went wrong", e.Message);
    }

    private static void Verify(FrameHeader header, byte[] payload)
    {
        var hash = new XxHash3();
        header.BeginChecksum(hash);
        hash.Append(payload);
        header.VerifyChecksum(hash);
    }
}
