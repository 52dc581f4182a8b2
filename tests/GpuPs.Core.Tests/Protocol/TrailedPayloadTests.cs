using System.IO.Hashing;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// A large payload sent with its checksum in a trailer: the header sealed alone and written with the prefix, the payload
/// in pieces of at most <see cref="TrailedPayload.PieceBytes"/>, each hashed after it was written, then the trailer; the
/// receiver's header and trailer checks pass on the intact frame and catch a flipped bit anywhere.
/// </summary>
public class TrailedPayloadTests
{
    private static async Task<(List<byte[]> Writes, FrameHeader Header)> WriteAsync(byte[] prefix, byte[] payload)
    {
        var header = FrameAnswers.PushFrame(new PushHeader(2, 7, 0, 10, 0.5), prefix.Length + payload.Length, TensorEncoding.Float32);
        var writes = new List<byte[]>();
        await TrailedPayload.WriteAsync(header, prefix, payload, new XxHash3(), new byte[FrameHeader.Size + prefix.Length], bytes =>
        {
            writes.Add(bytes.ToArray());
            return ValueTask.CompletedTask;
        });
        return (writes, FrameHeader.Read(writes[0]));
    }

    /// <summary>The receiver's side: the header's own checksum, then the prefix and payload hashed into the trailer's.</summary>
    private static void Receive(byte[] frame, int prefixBytes, int payloadBytes)
    {
        var header = FrameHeader.Read(frame);
        var hash = new XxHash3();
        header.VerifyHeader(hash);
        hash.Append(frame.AsSpan(FrameHeader.Size, prefixBytes + payloadBytes));
        header.VerifyTrailer(hash, frame.AsSpan(FrameHeader.Size + prefixBytes + payloadBytes, FrameHeader.TrailerBytes));
    }

    [Fact]
    public async Task The_header_and_prefix_go_first_the_payload_in_pieces_and_the_trailer_last_and_the_receiver_checks_both()
    {
        var random = new Random(5);
        var prefix = new byte[16];
        var payload = new byte[2 * TrailedPayload.PieceBytes + 1000];
        random.NextBytes(prefix);
        random.NextBytes(payload);

        var (writes, header) = await WriteAsync(prefix, payload);

        Assert.Equal([FrameHeader.Size + prefix.Length, TrailedPayload.PieceBytes, TrailedPayload.PieceBytes, 1000, FrameHeader.TrailerBytes],
            writes.Select(w => w.Length));
        Assert.Equal(prefix, writes[0][FrameHeader.Size..]);
        Assert.Equal(payload, writes[1..4].SelectMany(w => w).ToArray());
        Assert.True(header.HasTrailer);
        Assert.True(header.SealsHeaderOnly);
        Assert.False(header.InSharedMemory);
        Assert.Equal((2, 7L, prefix.Length + payload.Length), (header.Worker, header.Step, header.Length));

        var frame = writes.SelectMany(w => w).ToArray();
        Receive(frame, prefix.Length, payload.Length);   // intact: passes
        foreach (int at in new[] { 9, FrameHeader.ChecksummedBytes - 1, FrameHeader.Size + 3, FrameHeader.Size + prefix.Length + 300_000, frame.Length - 1 })
        {
            var corrupted = (byte[])frame.Clone();
            corrupted[at] ^= 0x10;
            var e = Assert.Throws<ShardException>(() => Receive(corrupted, prefix.Length, payload.Length));
            Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
            Assert.Contains(at < FrameHeader.ChecksummedBytes ? "frame header fails its checksum" : "fails its checksum (0x", e.Message);
        }
    }

    [Fact]
    public async Task The_header_checksum_covers_its_bytes_0_to_47_and_the_trailer_the_sealed_header_prefix_and_payload_whatever_the_hash_held()
    {
        var random = new Random(8);
        var prefix = new byte[8];
        var payload = new byte[TrailedPayload.PieceBytes + 5000];
        random.NextBytes(prefix);
        random.NextBytes(payload);
        var header = FrameAnswers.PushFrame(new PushHeader(2, 7, 0, 10, 0.5), prefix.Length + payload.Length, TensorEncoding.Float32);
        var used = new XxHash3();
        used.Append("left over from the last frame"u8);
        var writes = new List<byte[]>();
        await TrailedPayload.WriteAsync(header, prefix, payload, used, new byte[FrameHeader.Size + prefix.Length], bytes =>
        {
            writes.Add(bytes.ToArray());
            return ValueTask.CompletedTask;
        });

        // The references are the documented layout hashed in one call each, not the header's own checksum code.
        var sealedHeader = writes[0][..FrameHeader.Size];
        Assert.Equal(XxHash3.HashToUInt64(sealedHeader[..FrameHeader.ChecksummedBytes]), FrameHeader.Read(sealedHeader).Checksum);
        Assert.Equal(XxHash3.HashToUInt64([.. sealedHeader, .. prefix, .. payload]), BitConverter.ToUInt64(writes[^1]));

        var receiving = new XxHash3();
        receiving.Append("left over from the last frame"u8);
        var frame = writes.SelectMany(w => w).ToArray();
        var received = FrameHeader.Read(frame);
        received.VerifyHeader(receiving);
        receiving.Append(frame.AsSpan(FrameHeader.Size, prefix.Length + payload.Length));
        received.VerifyTrailer(receiving, frame.AsSpan(frame.Length - FrameHeader.TrailerBytes));
    }

    [Fact]
    public async Task A_4_MiB_payload_leaves_in_one_write_before_any_of_it_is_hashed()
    {
        var payload = new byte[4 << 20];
        new Random(6).NextBytes(payload);
        var header = FrameAnswers.PushFrame(new PushHeader(1, 3, 0, 1, 0), payload.Length, TensorEncoding.Float32);
        var hash = new XxHash3();
        var writes = new List<(int Bytes, ulong HashBefore)>();
        await TrailedPayload.WriteAsync(header, ReadOnlyMemory<byte>.Empty, payload, hash, new byte[FrameHeader.Size], bytes =>
        {
            writes.Add((bytes.Length, hash.GetCurrentHashAsUInt64()));
            return ValueTask.CompletedTask;
        });

        Assert.Equal([FrameHeader.Size, payload.Length, FrameHeader.TrailerBytes], writes.Select(w => w.Bytes));
        // When the payload's write starts, the hash holds the sealed header alone: the XXH3 pass comes after the bytes left.
        var sealedHeader = new XxHash3();
        var sealedOnly = header;
        sealedOnly.Flags |= FrameFlags.TrailingChecksum;
        sealedOnly.SealHeader(sealedHeader);
        Assert.Equal(sealedHeader.GetCurrentHashAsUInt64(), writes[1].HashBefore);
    }

    [Fact]
    public async Task A_payload_within_one_piece_is_written_in_one_and_an_empty_one_in_none()
    {
        var (small, _) = await WriteAsync([], new byte[100]);
        var (empty, header) = await WriteAsync([], []);

        Assert.Equal([FrameHeader.Size, 100, FrameHeader.TrailerBytes], small.Select(w => w.Length));
        Assert.Equal([FrameHeader.Size, FrameHeader.TrailerBytes], empty.Select(w => w.Length));
        Receive(empty.SelectMany(w => w).ToArray(), 0, 0);
        Assert.Equal(0, header.Length);
    }

    [Fact]
    public void A_header_flagged_for_shared_memory_seals_itself_alone_and_has_no_trailer()
    {
        var header = FrameHeader.Of(FrameKind.Push);
        header.Flags |= FrameFlags.SharedMemory;

        Assert.True(header.InSharedMemory);
        Assert.True(header.SealsHeaderOnly);
        Assert.False(header.HasTrailer);
        Assert.False(FrameHeader.Of(FrameKind.Push).SealsHeaderOnly);
    }

    [Fact]
    public void A_payload_in_segments_is_sealed_as_the_same_bytes_in_one_span()
    {
        var payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        var whole = FrameAnswers.PushFrame(new PushHeader(1, 3, 0, 1, 0), payload.Length, TensorEncoding.Float32);
        var segmented = whole;
        whole.Seal(new XxHash3(), payload);
        segmented.Seal(new XxHash3(), Segmented(payload, 1000, 2500));

        Assert.Equal(whole.Checksum, segmented.Checksum);
        Assert.NotEqual(0UL, whole.Checksum);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public void Validate_takes_an_empty_payload_and_one_of_exactly_the_limit(int length)
    {
        var header = FrameHeader.Of(FrameKind.Push);
        header.Length = length;
        header.Validate(maxPayload: 100);
    }
}
