using System.Buffers.Binary;
using System.IO.Hashing;

namespace GpuPs.Protocol.Frames;

/// <summary>
/// Sending a large payload with its checksum in a trailer (<see cref="FrameFlags.TrailingChecksum"/>): the header goes
/// out sealed alone, the payload in writes of up to <see cref="PieceBytes"/>, each piece hashed right after its write
/// (while the receiver copies it out of its socket), then the trailer; the receiver hashes each read as it arrives.
/// Neither side hashes the whole payload before the first byte leaves. On a connection that agreed to
/// <see cref="FrameChecksum.None"/> neither side hashes it at all (<see cref="FrameFlags.UncheckedPayload"/>, no trailer).
/// </summary>
/// <remarks>
/// Why one write per 4 MiB, hashed after it: a send call costs more than its bytes. Writing 4 MiB as 16 writes of
/// 256 KiB (as before) cost even the raw-socket reference 35 % of its push rate and 240 µs more client CPU per push, and
/// its server 580 µs more per pull; with one write per 4 MiB the data plane's client CPU per 4 MiB push fell from 1,429 to
/// 971 µs and its server's per pull from 1,689 to 1,050 µs, and its rate against the raw socket rose from 0.52 to 0.78×
/// (push) and 0.58 to 0.74× (pull), four alternations of each build (docs/benchmarks.md, "sixth 2026-11-26 session").
/// Hashing a piece after its write overlaps that XXH3 pass (~0.1 ms per 4 MiB) with the receiver's copy instead of
/// delaying the first byte. At most 4 MiB per write keeps each under the sender's write deadline
/// (<c>--push-idle-timeout-ms</c>, 10 s: 4 MiB in 10 s is 3.4 Mbit/s) for shards of any size.
/// </remarks>
public static class TrailedPayload
{
    /// <summary>Payloads above this many bytes are sent with a trailer; smaller frames go out whole, in one write.</summary>
    public const int Threshold = 64 << 10;

    /// <summary>The largest write of payload; a piece is hashed after it was written.</summary>
    public const int PieceBytes = 4 << 20;

    /// <summary>
    /// Writes <paramref name="header"/> (flagged <see cref="FrameFlags.TrailingChecksum"/> and sealed with
    /// <see cref="FrameHeader.SealHeader"/> over <paramref name="hash"/>)
    /// and <paramref name="prefix"/> in one write, then <paramref name="payload"/> piece by piece, each hashed just after
    /// it was written, then the 8-byte trailer from <paramref name="scratch"/> (at least
    /// <c>FrameHeader.Size + prefix.Length</c> bytes). <paramref name="header"/>'s length must be the prefix and payload's;
    /// the payload must not change until the task completes. With <paramref name="checksum"/>
    /// <see cref="FrameChecksum.None"/> (the connection agreed to it) the header is flagged
    /// <see cref="FrameFlags.UncheckedPayload"/> instead, and the payload goes out in the same writes unhashed, with no trailer.
    /// </summary>
    public static async ValueTask WriteAsync(FrameHeader header, ReadOnlyMemory<byte> prefix, ReadOnlyMemory<byte> payload, XxHash3 hash, Memory<byte> scratch,
        Func<ReadOnlyMemory<byte>, ValueTask> write, FrameChecksum checksum = FrameChecksum.Xxh3)
    {
        bool trailer = checksum != FrameChecksum.None;
        header.Flags |= trailer ? FrameFlags.TrailingChecksum : FrameFlags.UncheckedPayload;
        header.SealHeader(hash);
        header.WriteTo(scratch.Span);
        prefix.Span.CopyTo(scratch.Span[FrameHeader.Size..]);
        if (trailer) hash.Append(prefix.Span);
        await write(scratch[..(FrameHeader.Size + prefix.Length)]).ConfigureAwait(false);
        for (int sent = 0; sent < payload.Length;)
        {
            var piece = payload.Slice(sent, Math.Min(PieceBytes, payload.Length - sent));
            await write(piece).ConfigureAwait(false);
            if (trailer) hash.Append(piece.Span);
            sent += piece.Length;
        }
        if (!trailer) return;
        BinaryPrimitives.WriteUInt64LittleEndian(scratch.Span, hash.GetCurrentHashAsUInt64());
        await write(scratch[..FrameHeader.TrailerBytes]).ConfigureAwait(false);
    }
}
