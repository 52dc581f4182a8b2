using GpuPs.Core.Shards;

namespace GpuPs.Protocol.Frames;

/// <summary>
/// What covers a data-plane frame's payload on a connection (<c>--frame-checksum</c>), agreed in its handshake: the
/// client asks in its Hello (<c>Part</c>: 0 for the server's policy, else this value), the server's policy decides and
/// its Welcome's <c>Part</c> says what was agreed (<see cref="FrameChecksums.Agree"/>).
/// </summary>
public enum FrameChecksum
{
    /// <summary>
    /// Every frame end to end: XXH3-64 of the header and payload, in the header (small frames) or a trailer (large ones,
    /// <see cref="FrameFlags.TrailingChecksum"/>). The default on plaintext TCP.
    /// </summary>
    Xxh3 = 1,

    /// <summary>
    /// Large payloads (above <see cref="TrailedPayload.Threshold"/>) go unhashed (<see cref="FrameFlags.UncheckedPayload"/>):
    /// no trailer, no pass over the bytes on either side; the header keeps its own checksum (its length is still checked
    /// before it is trusted), and so do small frames (≤ 64 KiB: at most ~3 µs of XXH3, gone in the same write). What
    /// still guards the payload is the transport: TCP's 16-bit checksum and the link's CRC on plain TCP; TLS's AEAD tag on
    /// every record over TLS, where this is the default.
    /// </summary>
    None = 2,
}

/// <summary>Names, parsing and the handshake's rule for <see cref="FrameChecksum"/>.</summary>
public static class FrameChecksums
{
    /// <summary>The setting's values as users type them.</summary>
    public const string Choices = "auto | xxh3 | none";

    /// <summary><c>xxh3</c> or <c>none</c>.</summary>
    public static string Name(FrameChecksum checksum) => checksum == FrameChecksum.None ? "none" : "xxh3";

    /// <summary>Parses a <c>--frame-checksum</c> value; <c>auto</c> (or empty) is null: the data plane's default (<see cref="Policy"/>).</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="Choices"/>.</exception>
    public static FrameChecksum? Parse(string value) => value.Trim().ToLowerInvariant() switch
    {
        "" or "auto" => null,
        "xxh3" => FrameChecksum.Xxh3,
        "none" => FrameChecksum.None,
        _ => throw new ArgumentException($"unknown frame checksum '{value}': use {Choices}"),
    };

    /// <summary>
    /// A server's policy: the setting, or by default <see cref="FrameChecksum.Xxh3"/> on plaintext TCP and
    /// <see cref="FrameChecksum.None"/> over TLS, whose AEAD already authenticates every record (a changed byte fails the
    /// record and ends the connection), so a second pass over the payload would find nothing it misses.
    /// </summary>
    public static FrameChecksum Policy(FrameChecksum? setting, bool tls) => setting ?? (tls ? FrameChecksum.None : FrameChecksum.Xxh3);

    /// <summary>
    /// The server's side of the handshake: the checksum a connection uses, from the Hello's <paramref name="asked"/>
    /// (its <c>Part</c>: 0 for the server's policy) and the server's <paramref name="policy"/>. A client may ask for more
    /// checking than the policy (it gets it), never less.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest, naming both: an unknown value, or less than the policy.</exception>
    public static FrameChecksum Agree(int asked, FrameChecksum policy, int shard)
    {
        if (asked == 0) return policy;
        if (!Enum.IsDefined((FrameChecksum)asked))
            throw ShardException.Invalid($"the Hello asks for frame checksum {asked}, which this data plane does not know (1: xxh3, 2: none)");
        var wanted = (FrameChecksum)asked;
        if (wanted == FrameChecksum.None && policy == FrameChecksum.Xxh3)
            throw ShardException.Invalid($"shard {shard}'s data plane checks every frame (--frame-checksum xxh3, its policy) and this client asked for " +
                "--frame-checksum none: a client may ask for more checking than the server's policy, never less; start the server with " +
                "--frame-checksum none, or let the client follow the server");
        return wanted;
    }
}
