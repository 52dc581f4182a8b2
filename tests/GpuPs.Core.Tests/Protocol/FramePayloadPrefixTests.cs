using System.Buffers.Binary;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// What a frame's payload may start with before its values: a PushPull frame's 16-byte pull request and a piece frame's
/// 8-byte range. Both round trip at their documented offsets, and every value the server must not act on is refused
/// with InvalidRequest naming it.
/// </summary>
public class FramePayloadPrefixTests
{
    [Fact]
    public void A_pull_request_round_trips_at_its_documented_offsets()
    {
        var bytes = new byte[PushPullRequest.Bytes + 4];
        bytes.AsSpan().Fill(0xAB);

        new PushPullRequest(MinStep: 0x0102030405060708, WaitMilliseconds: 30_000).WriteTo(bytes);

        Assert.Equal(0x0102030405060708, BinaryPrimitives.ReadInt64LittleEndian(bytes));
        Assert.Equal(30_000, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12)));   // reserved, written as 0
        Assert.Equal(0xABABABAB, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)));   // the values after it are left alone
        Assert.Equal(new PushPullRequest(0x0102030405060708, 30_000), PushPullRequest.Read(bytes));
        Assert.Equal(new PushPullRequest(0, 1), PushPullRequest.Read(Request(0, 1)));   // the smallest valid: at once, 1 ms
    }

    public static TheoryData<byte[], string> BadRequests => new()
    {
        { new byte[PushPullRequest.Bytes - 1], "PushPull frame of 15 payload bytes is shorter than its 16-byte pull request" },
        { Request(-1, 100), "asks for min step -1: negative" },
        { Request(3, 0), "asks to wait 0 ms: it must be 1 or more" },
        { Request(3, -5), "asks to wait -5 ms" },
        { Request(3, 100, reserved: 1), "sets its pull request's reserved field" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void A_pull_request_the_server_must_not_act_on_is_refused(byte[] payload, string message)
    {
        var e = Assert.Throws<ShardException>(() => PushPullRequest.Read(payload));

        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_piece_range_round_trips_and_may_start_at_the_shards_start_and_end_exactly_at_its_end()
    {
        var bytes = new byte[FrameAnswers.PieceBytes];

        FrameAnswers.WritePiece(new PieceRange(96, 4), bytes);

        Assert.Equal((96, 4), (BinaryPrimitives.ReadInt32LittleEndian(bytes), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4))));
        Assert.Equal(new PieceRange(96, 4), FrameAnswers.PieceOf(bytes, shardLength: 100));
        Assert.Equal(100, new PieceRange(96, 4).End);
        Assert.Equal("[96, 100)", new PieceRange(96, 4).ToString());
        FrameAnswers.WritePiece(new PieceRange(0, 100), bytes);
        Assert.Equal(new PieceRange(0, 100), FrameAnswers.PieceOf(bytes, shardLength: 100));   // the shard's first piece, and all of it
    }

    [Theory]
    [InlineData(-1, 4, "piece [-1, 3) is not a non-empty range of the shard's 100 parameters")]
    [InlineData(10, 0, "piece [10, 10)")]
    [InlineData(97, 4, "piece [97, 101)")]
    [InlineData(int.MaxValue, 2, "piece [2147483647, 2147483649)")]   // no overflow into a negative end
    public void A_piece_outside_the_shard_or_empty_is_refused(int offset, int length, string message)
    {
        var bytes = new byte[FrameAnswers.PieceBytes];
        FrameAnswers.WritePiece(new PieceRange(offset, length), bytes);

        var e = Assert.Throws<ShardException>(() => FrameAnswers.PieceOf(bytes, shardLength: 100));

        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_piece_frame_too_short_for_its_range_is_refused()
    {
        var e = Assert.Throws<ShardException>(() => FrameAnswers.PieceOf(new byte[7], shardLength: 100));

        Assert.Contains("piece frame of 7 bytes has no piece (8 bytes)", e.Message);
    }

    private static byte[] Request(long minStep, int waitMs, int reserved = 0)
    {
        var bytes = new byte[PushPullRequest.Bytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, minStep);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), waitMs);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), reserved);
        return bytes;
    }
}
