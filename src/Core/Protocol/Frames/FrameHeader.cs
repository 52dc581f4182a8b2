using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol.Frames;

/// <summary>
/// The fixed 56-byte header of every data-plane frame; the frame's payload (<see cref="Length"/> bytes) follows it.
/// All fields little-endian:
/// <code>
///  0       4     5     6       8               16       20       24       28       32              40              48              56
///  +-------+-----+-----+-------+---------------+--------+--------+--------+--------+---------------+---------------+---------------+
///  | magic | ver | kind| flags | step          | worker | shard  | part   | length | count         | loss          | checksum      |
///  | GPSF  | u8  | u8  | u16   | i64           | i32    | i32    | i32    | i32    | i64           | f64           | u64           |
///  +-------+-----+-----+-------+---------------+--------+--------+--------+--------+---------------+---------------+---------------+
/// </code>
/// <c>part</c> is the code row or partition of a push (by <see cref="FrameFlags"/>), the outcome kind of a push reply, the
/// error kind of an error, the wait limit in ms of a pull; <c>count</c> is the sample count of a push, the min step of a
/// pull, the offset of a pull reply, the shard length of a welcome, the µs a fused push's reply was held for its pull. With compressed pulls a Pull's <c>step</c> is the
/// version of the worker's copy of the shard and a PullReply's <c>part</c> the copy's new version (docs/compression.md).
/// <c>checksum</c> is XXH3-64 of bytes 0..47 and the
/// payload, so a flipped bit anywhere in a frame is caught before anything is applied. A frame flagged
/// <see cref="FrameFlags.TrailingChecksum"/> (large payloads) splits it: <c>checksum</c> covers bytes 0..47 alone and an
/// 8-byte trailer after the payload carries XXH3-64 of the sealed header and the payload. On a connection that agreed to
/// <see cref="FrameChecksum.None"/> a large payload is flagged <see cref="FrameFlags.UncheckedPayload"/> instead: the header
/// is sealed alone and nothing covers the payload.
/// </summary>
/// <remarks>
/// Why XXH3: at ~20 GB/s (System.IO.Hashing, vectorized) it costs a 4 MiB frame ~0.2 ms on each side, against ~1.1 ms to
/// move it at 3,500 MB/s; a CRC-32 without carry-less multiply runs at a fraction of that.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct FrameHeader
{
    /// <summary>Bytes of a header.</summary>
    public const int Size = 56;

    /// <summary>Bytes the checksum covers before the payload: the header without its checksum.</summary>
    public const int ChecksummedBytes = 48;

    /// <summary>Bytes of the checksum trailer after the payload of a <see cref="FrameFlags.TrailingChecksum"/> frame.</summary>
    public const int TrailerBytes = sizeof(ulong);

    /// <summary>"GPSF" read as a little-endian u32: the first four bytes of every frame.</summary>
    public const uint Magic = 0x46535047;

    /// <summary>The protocol version this code speaks.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>"GPSF".</summary>
    [FieldOffset(0)] public uint MagicValue;
    /// <summary>Protocol version (1).</summary>
    [FieldOffset(4)] public byte Version;
    /// <summary>What the frame is.</summary>
    [FieldOffset(5)] public FrameKind Kind;
    /// <summary>Encoding and answer bits.</summary>
    [FieldOffset(6)] public FrameFlags Flags;
    /// <summary>The step the frame belongs to.</summary>
    [FieldOffset(8)] public long Step;
    /// <summary>The worker id (-1: none, an observer).</summary>
    [FieldOffset(16)] public int Worker;
    /// <summary>The shard index.</summary>
    [FieldOffset(20)] public int Shard;
    /// <summary>Code row, partition, outcome kind, error kind or wait limit (see the type's remarks).</summary>
    [FieldOffset(24)] public int Part;
    /// <summary>Bytes of payload after the header.</summary>
    [FieldOffset(28)] public int Length;
    /// <summary>Sample count, min step, offset or shard length (see the type's remarks).</summary>
    [FieldOffset(32)] public long Count;
    /// <summary>A push's loss sum.</summary>
    [FieldOffset(40)] public double Loss;
    /// <summary>XXH3-64 of bytes 0..47 and the payload.</summary>
    [FieldOffset(48)] public ulong Checksum;

    static FrameHeader()
    {
        // The layout is read and written as memory; every platform .NET 10 ships for (x64, arm64) is little-endian.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the GpuPs data plane needs a little-endian machine");
    }

    /// <summary>A header of <paramref name="kind"/> with the magic and version set and everything else zero.</summary>
    public static FrameHeader Of(FrameKind kind) => new() { MagicValue = Magic, Version = CurrentVersion, Kind = kind };

    /// <summary>Copies the header's bytes (as they are, checksum included) into <paramref name="destination"/> (at least <see cref="Size"/> bytes).</summary>
    public readonly void WriteTo(Span<byte> destination) => MemoryMarshal.Write(destination, in this);

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/>; nothing is checked.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source) => MemoryMarshal.Read<FrameHeader>(source);

    /// <summary>
    /// Checks what a header alone can say: magic, version, a known kind, only known flags and a payload length from 0 to
    /// <paramref name="maxPayload"/>. Throws <see cref="ShardException"/> (InvalidRequest) naming what is wrong.
    /// </summary>
    public readonly void Validate(int maxPayload)
    {
        if (MagicValue != Magic)
            throw ShardException.Invalid($"not a GpuPs data-plane frame (magic 0x{MagicValue:X8}, expected 0x{Magic:X8} \"GPSF\")");
        if (Version != CurrentVersion)
            throw ShardException.Invalid($"frame version {Version} is not supported (this side speaks {CurrentVersion})");
        if (!Enum.IsDefined(Kind))
            throw ShardException.Invalid($"frame kind {(byte)Kind} is unknown");
        if ((Flags & ~KnownFlags) != 0)
            throw ShardException.Invalid($"{Kind} frame carries unknown flag bits 0x{(ushort)(Flags & ~KnownFlags):X4}: refused, nothing applied " +
                "(a flag this side does not know could change what the payload means)");
        if (Length < 0 || Length > maxPayload)
            throw ShardException.Invalid($"{Kind} frame of {Length} payload bytes is refused: the limit for it is {maxPayload} bytes");
    }

    /// <summary>Every flag this version defines (<see cref="FrameFlags"/>).</summary>
    private static readonly FrameFlags KnownFlags = Enum.GetValues<FrameFlags>().Aggregate(FrameFlags.None, (all, flag) => all | flag);

    /// <summary>Starts the checksum of this header (bytes 0..47) in <paramref name="hash"/>, which is reset first.</summary>
    public readonly void BeginChecksum(XxHash3 hash)
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteTo(bytes);
        hash.Reset();
        hash.Append(bytes[..ChecksummedBytes]);
    }

    /// <summary>Sets <see cref="Checksum"/> from the header and <paramref name="payload"/>.</summary>
    public void Seal(XxHash3 hash, ReadOnlySpan<byte> payload)
    {
        BeginChecksum(hash);
        hash.Append(payload);
        Checksum = hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Sets <see cref="Checksum"/> from the header and a payload in segments.</summary>
    public void Seal(XxHash3 hash, in ReadOnlySequence<byte> payload)
    {
        BeginChecksum(hash);
        foreach (var segment in payload) hash.Append(segment.Span);
        Checksum = hash.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// Throws <see cref="ShardException"/> (InvalidRequest) unless <paramref name="hash"/>, begun with
    /// <see cref="BeginChecksum"/> and given the whole payload, equals <see cref="Checksum"/>.
    /// </summary>
    public readonly void VerifyChecksum(XxHash3 hash)
    {
        var actual = hash.GetCurrentHashAsUInt64();
        if (actual != Checksum)
            throw ShardException.Invalid($"{Kind} frame for step {Step} fails its checksum (0x{actual:X16}, the frame says 0x{Checksum:X16}): corrupted in transit; nothing applied");
    }

    /// <summary>The payload's checksum follows it in a trailer (<see cref="FrameFlags.TrailingChecksum"/>).</summary>
    public readonly bool HasTrailer => (Flags & FrameFlags.TrailingChecksum) != 0;

    /// <summary>The payload lies in the connection's shared-memory region (<see cref="FrameFlags.SharedMemory"/>).</summary>
    public readonly bool InSharedMemory => (Flags & FrameFlags.SharedMemory) != 0;

    /// <summary>Nothing covers the payload (<see cref="FrameFlags.UncheckedPayload"/>): a connection that agreed to <see cref="FrameChecksum.None"/>.</summary>
    public readonly bool IsUnchecked => (Flags & FrameFlags.UncheckedPayload) != 0;

    /// <summary>The checksum covers the header alone: a trailer or the shared region holds what covers the payload, if anything.</summary>
    public readonly bool SealsHeaderOnly => (Flags & (FrameFlags.TrailingChecksum | FrameFlags.SharedMemory | FrameFlags.UncheckedPayload)) != 0;

    /// <summary>
    /// Throws <see cref="ShardException"/> (InvalidRequest) unless the frame's checksum flag agrees with the connection's
    /// <paramref name="agreed"/> checksum: an unchecked payload only where both sides agreed to
    /// <see cref="FrameChecksum.None"/>, a trailer only where they agreed to <see cref="FrameChecksum.Xxh3"/> (small frames,
    /// sealed whole in their header, pass on either). Call it on every header, after <see cref="Validate"/>, before
    /// anything of the frame is read or applied.
    /// </summary>
    public readonly void CheckChecksumFlag(FrameChecksum agreed)
    {
        if (IsUnchecked && agreed != FrameChecksum.None)
            throw ShardException.Invalid($"{Kind} frame for step {Step} carries an unchecked payload, but this connection agreed to --frame-checksum xxh3 " +
                "(or has not shaken hands yet): refused, nothing applied");
        if (HasTrailer && agreed == FrameChecksum.None)
            throw ShardException.Invalid($"{Kind} frame for step {Step} carries a checksum trailer, but this connection agreed to --frame-checksum none: " +
                "refused, nothing applied");
    }

    /// <summary>
    /// Sets <see cref="Checksum"/> over the header alone (flag it <see cref="FrameFlags.TrailingChecksum"/> or
    /// <see cref="FrameFlags.SharedMemory"/> first), and starts a trailer's hash in <paramref name="hash"/> with the sealed
    /// header; append the payload, then <see cref="XxHash3.GetCurrentHashAsUInt64"/> is the trailer.
    /// </summary>
    public void SealHeader(XxHash3 hash)
    {
        BeginChecksum(hash);
        Checksum = hash.GetCurrentHashAsUInt64();
        BeginTrailer(hash);
    }

    /// <summary>
    /// For a frame that <see cref="SealsHeaderOnly"/>: throws <see cref="ShardException"/> (InvalidRequest) unless
    /// <see cref="Checksum"/> matches the header, then starts the trailer's hash in <paramref name="hash"/>. Call it before
    /// trusting any field, the payload length first.
    /// </summary>
    public readonly void VerifyHeader(XxHash3 hash)
    {
        BeginChecksum(hash);
        var actual = hash.GetCurrentHashAsUInt64();
        if (actual != Checksum)
            throw ShardException.Invalid($"{Kind} frame header fails its checksum (0x{actual:X16}, the frame says 0x{Checksum:X16}): corrupted in transit; nothing applied");
        BeginTrailer(hash);
    }

    /// <summary>
    /// Throws <see cref="ShardException"/> (InvalidRequest) unless <paramref name="trailer"/> (the 8 bytes after the
    /// payload) equals <paramref name="hash"/>, begun by <see cref="VerifyHeader"/> and given the whole payload.
    /// </summary>
    public readonly void VerifyTrailer(XxHash3 hash, ReadOnlySpan<byte> trailer)
    {
        ulong actual = hash.GetCurrentHashAsUInt64(), sent = BinaryPrimitives.ReadUInt64LittleEndian(trailer);
        if (actual != sent)
            throw ShardException.Invalid($"{Kind} frame for step {Step} fails its checksum (0x{actual:X16}, the trailer says 0x{sent:X16}): corrupted in transit; nothing applied");
    }

    private readonly void BeginTrailer(XxHash3 hash)
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteTo(bytes);
        hash.Reset();
        hash.Append(bytes);
    }

    /// <summary>The header in words, for messages.</summary>
    public override readonly string ToString() =>
        $"{Kind} frame (step {Step}, worker {Worker}, shard {Shard}, part {Part}, {Length} bytes, flags {Flags})";
}
