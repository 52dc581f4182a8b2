using System.IO.Hashing;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// The frame checksum's rules alone: the defaults (xxh3 on plaintext, none over TLS), the handshake's agreement (the
/// server's policy unless the client asks for more; less is refused by name), a large payload written unchecked (flagged,
/// header sealed alone, no trailer, same writes), and the flag checked against the connection's agreement.
/// </summary>
public class FrameChecksumTests
{
    [Fact]
    public void The_policy_defaults_to_xxh3_on_plaintext_and_none_over_tls_and_the_setting_parses_as_typed()
    {
        Assert.Equal(FrameChecksum.Xxh3, FrameChecksums.Policy(null, tls: false));
        Assert.Equal(FrameChecksum.None, FrameChecksums.Policy(null, tls: true));
        Assert.Equal(FrameChecksum.Xxh3, FrameChecksums.Policy(FrameChecksum.Xxh3, tls: true));
        Assert.Equal(FrameChecksum.None, FrameChecksums.Policy(FrameChecksum.None, tls: false));
        Assert.Equal([null, null, FrameChecksum.Xxh3, FrameChecksum.None], new[] { "auto", "", " XXH3", "none" }.Select(FrameChecksums.Parse));
        Assert.Contains("auto | xxh3 | none", Assert.Throws<ArgumentException>(() => FrameChecksums.Parse("crc32")).Message);
        Assert.Equal(["xxh3", "none"], new[] { FrameChecksum.Xxh3, FrameChecksum.None }.Select(FrameChecksums.Name));   // as the logs and refusals name them
    }

    [Fact]
    public void The_server_policy_decides_a_client_may_ask_for_more_and_one_asking_for_less_is_refused_by_name()
    {
        Assert.Equal(FrameChecksum.Xxh3, FrameChecksums.Agree(0, FrameChecksum.Xxh3, 0));
        Assert.Equal(FrameChecksum.None, FrameChecksums.Agree(0, FrameChecksum.None, 0));
        Assert.Equal(FrameChecksum.Xxh3, FrameChecksums.Agree((int)FrameChecksum.Xxh3, FrameChecksum.None, 0));
        Assert.Equal(FrameChecksum.None, FrameChecksums.Agree((int)FrameChecksum.None, FrameChecksum.None, 0));

        var less = Assert.Throws<ShardException>(() => FrameChecksums.Agree((int)FrameChecksum.None, FrameChecksum.Xxh3, 3));
        Assert.Equal(ShardErrorKind.InvalidRequest, less.Kind);
        Assert.Contains("shard 3's data plane checks every frame (--frame-checksum xxh3, its policy)", less.Message);
        Assert.Contains("asked for --frame-checksum none", less.Message);
        Assert.Contains("never less; start the server with --frame-checksum none, or let the client follow the server", less.Message);   // what to do about it
        Assert.Contains("frame checksum 7", Assert.Throws<ShardException>(() => FrameChecksums.Agree(7, FrameChecksum.None, 0)).Message);
    }

    [Fact]
    public async Task A_large_payload_under_none_goes_in_the_same_writes_flagged_unchecked_with_no_trailer_and_its_header_still_sealed()
    {
        var payload = new byte[TrailedPayload.PieceBytes + 1000];
        new Random(7).NextBytes(payload);
        var prefix = new byte[8];
        var header = FrameAnswers.PushFrame(new PushHeader(2, 7, 0, 10, 0.5), prefix.Length + payload.Length, TensorEncoding.Float32);
        var writes = new List<byte[]>();

        await TrailedPayload.WriteAsync(header, prefix, payload, new XxHash3(), new byte[FrameHeader.Size + prefix.Length], bytes =>
        {
            writes.Add(bytes.ToArray());
            return ValueTask.CompletedTask;
        }, FrameChecksum.None);

        Assert.Equal([FrameHeader.Size + prefix.Length, TrailedPayload.PieceBytes, 1000], writes.Select(w => w.Length));
        Assert.Equal(payload, writes[1..].SelectMany(w => w).ToArray());
        var sent = FrameHeader.Read(writes[0]);
        Assert.Equal((true, false, true), (sent.IsUnchecked, sent.HasTrailer, sent.SealsHeaderOnly));
        sent.VerifyHeader(new XxHash3());   // the header's own checksum holds, so its length is trusted
        var changed = sent;
        changed.Length += 4;
        Assert.Contains("header fails its checksum", Assert.Throws<ShardException>(() => changed.VerifyHeader(new XxHash3())).Message);
    }

    [Fact]
    public void A_checksum_flag_that_disagrees_with_the_connection_is_refused_and_small_sealed_frames_pass_on_either()
    {
        var push = FrameAnswers.PushFrame(new PushHeader(2, 7, 0, 10, 0.5), 100_000, TensorEncoding.Float32);
        var unchecked_ = push;
        unchecked_.Flags |= FrameFlags.UncheckedPayload;
        var trailed = push;
        trailed.Flags |= FrameFlags.TrailingChecksum;

        unchecked_.CheckChecksumFlag(FrameChecksum.None);
        trailed.CheckChecksumFlag(FrameChecksum.Xxh3);
        push.CheckChecksumFlag(FrameChecksum.None);
        push.CheckChecksumFlag(FrameChecksum.Xxh3);
        var refused = Assert.Throws<ShardException>(() => unchecked_.CheckChecksumFlag(FrameChecksum.Xxh3));
        Assert.Equal(ShardErrorKind.InvalidRequest, refused.Kind);
        Assert.Contains("unchecked payload, but this connection agreed to --frame-checksum xxh3 (or has not shaken hands yet): refused, nothing applied", refused.Message);
        Assert.Contains("checksum trailer, but this connection agreed to --frame-checksum none: refused, nothing applied",
            Assert.Throws<ShardException>(() => trailed.CheckChecksumFlag(FrameChecksum.None)).Message);
    }
}
