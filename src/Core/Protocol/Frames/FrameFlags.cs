namespace GpuPs.Protocol.Frames;

/// <summary>Bits of a <see cref="FrameHeader"/>'s <c>Flags</c>.</summary>
[Flags]
public enum FrameFlags : ushort
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>Push: the values are bfloat16 (2 bytes each), not float32.</summary>
    BFloat16 = 1 << 0,

    /// <summary>Push: <c>Part</c> is the coded mode's code row.</summary>
    CodeRow = 1 << 1,

    /// <summary>Push: <c>Part</c> is the multi-message mode's partition.</summary>
    Partition = 1 << 2,

    /// <summary>PushReply: the push closed its step.</summary>
    ClosedStep = 1 << 3,

    /// <summary>PushReply, PullReply: the job has run all its steps.</summary>
    Finished = 1 << 4,

    /// <summary>Push: the payload is the sparse encoding (<see cref="SparseCodec"/>) of the shard's values. PullReply: of the delta to the worker's copy.</summary>
    Sparse = 1 << 5,

    /// <summary>Push: the payload is the sign encoding (<see cref="SignCodec"/>) of the shard's values. PullReply: of the delta to the worker's copy.</summary>
    Sign = 1 << 6,

    /// <summary>
    /// Push, Pull: one piece of the shard (<see cref="PieceRange"/>). The payload starts with the piece as two int32
    /// (offset within the shard, length in values; <see cref="FrameAnswers.PieceBytes"/>); a push's values follow it.
    /// </summary>
    Piece = 1 << 10,

    /// <summary>
    /// Any frame with a payload: the header's <c>checksum</c> covers the header alone (bytes 0..47), and the payload is
    /// followed by an 8-byte trailer, XXH3-64 of the sealed header (56 bytes) and the payload
    /// (<see cref="FrameHeader.TrailerBytes"/>). Lets a sender hash and send a large payload piece by piece instead of
    /// hashing all of it before the header can go out, and a receiver trust the header (its length) before the payload.
    /// </summary>
    TrailingChecksum = 1 << 11,

    /// <summary>
    /// Push, PushPull, PullReply on a connection with a shared-memory region
    /// (<see cref="SharedMemory.SharedRegion"/>): the payload is not on the stream but in the sender's area of the region,
    /// after its header room; the header's <c>checksum</c> covers the header alone (bytes 0..47).
    /// </summary>
    SharedMemory = 1 << 12,

    /// <summary>
    /// A large payload on a connection that agreed to <see cref="FrameChecksum.None"/>: the header's <c>checksum</c>
    /// covers the header alone (bytes 0..47) and nothing covers the payload, which no trailer follows. On a connection that
    /// agreed to <see cref="FrameChecksum.Xxh3"/> such a frame is refused (<see cref="FrameHeader.CheckChecksumFlag"/>).
    /// </summary>
    UncheckedPayload = 1 << 13,
}
