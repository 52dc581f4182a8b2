namespace GpuPs.Protocol.Frames;

/// <summary>What a data-plane frame is (byte 5 of its <see cref="FrameHeader"/>).</summary>
public enum FrameKind : byte
{
    /// <summary>Client → server, first frame of a connection: the job token (payload) and the shard it expects.</summary>
    Hello = 1,

    /// <summary>Server → client: the handshake passed; the shard's index, length (<c>Count</c>) and step.</summary>
    Welcome = 2,

    /// <summary>Client → server: one gradient for the whole shard (payload: float32 or bfloat16 values).</summary>
    Push = 3,

    /// <summary>Server → client: the <see cref="Core.Shards.PushOutcome"/> of a push (payload: the reason, UTF-8).</summary>
    PushReply = 4,

    /// <summary>Client → server: wait for step <c>Count</c> (at most <c>Part</c> ms), then send the parameters.</summary>
    Pull = 5,

    /// <summary>Server → client: the shard's parameters (payload: float32 values), its step and offset (<c>Count</c>).</summary>
    PullReply = 6,

    /// <summary>
    /// Server → client: the request failed (<c>Part</c>: the <see cref="Core.Shards.ShardErrorKind"/>, payload: the message,
    /// UTF-8). After an error about the frame itself (malformed, unauthenticated) the server closes the connection.
    /// </summary>
    Error = 7,

    /// <summary>
    /// Client → server: a push fused with the pull that follows it (ps-lite's PushPull), one round trip per step. Header
    /// as a <see cref="Push"/>'s; payload: a <see cref="PushPullRequest"/> (the pull's min step and wait), then the values.
    /// Answered with a <see cref="PushReply"/>; when the push was applied, then a <see cref="PullReply"/> once the shard
    /// reached the min step (or an <see cref="Error"/> saying why the pull part failed: the push stays applied).
    /// </summary>
    PushPull = 8,

    /// <summary>
    /// Either way, after the Welcome: the shared-memory handshake of a connection between processes on one host
    /// (<see cref="SharedMemoryStage"/> in <c>Part</c>). Client Offer → server Region (payload: the file's path, UTF-8;
    /// <c>Count</c>: each area's bytes; the file starts with a nonce) → client Attach (payload: the nonce it read from its
    /// mapping) → server Attached; or client Decline (it could not map the file). From Attached on, payloads of Push,
    /// PushPull and PullReply frames may lie in the region (<see cref="FrameFlags.SharedMemory"/>).
    /// </summary>
    SharedMemory = 9,
}

/// <summary>The step of the shared-memory handshake a <see cref="FrameKind.SharedMemory"/> frame is (its <c>Part</c>).</summary>
public enum SharedMemoryStage
{
    /// <summary>Client: offer me a region.</summary>
    Offer = 0,

    /// <summary>Server: here is the region's file.</summary>
    Region = 1,

    /// <summary>Client: mapped; the nonce I read from it.</summary>
    Attach = 2,

    /// <summary>Server: the nonce matches; the file is unlinked; payloads may go through the region.</summary>
    Attached = 3,

    /// <summary>Client: I cannot map it (another host, another user); go on without it.</summary>
    Decline = 4,
}
