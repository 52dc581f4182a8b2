namespace GpuPs.Server;

/// <summary>
/// What a <see cref="GpuPsServerHost"/> allows its callers, so that no client can hold it with oversized, endless or
/// silent calls and connections. The defaults are those of <c>gpups server</c>, where each is an option.
/// </summary>
public sealed record ServerLimits
{
    /// <summary>The defaults.</summary>
    public static ServerLimits Default { get; } = new();

    /// <summary>
    /// Largest request message, refused with RESOURCE_EXHAUSTED before it is read: 4 MiB + 1 KiB, a push chunk of
    /// 4 MiB of values and its header fields (under 100 bytes). GpuPs workers send 1 MiB chunks; clients in other
    /// languages must split a push into chunks no larger.
    /// </summary>
    public int MaxMessageBytes { get; init; } = (4 << 20) + 1024;

    /// <summary>
    /// Calls in flight on one HTTP/2 connection: 32 (Kestrel allows 100). A worker has a pull, a heartbeat and a status call
    /// on one connection and its pushes on another; a client that wants more opens another connection or waits.
    /// </summary>
    public int MaxStreamsPerConnection { get; init; } = 32;

    /// <summary>
    /// A push stream that sends no chunk for this long is ended with DEADLINE_EXCEEDED and nothing is applied: 10 s, while
    /// a worker sends a 1 MiB chunk every few milliseconds. (Kestrel's MinRequestBodyDataRate cannot do this: grpc-dotnet
    /// switches it off for streaming calls, and HTTP/2 cannot switch it back on for one stream.)
    /// </summary>
    public TimeSpan PushIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Open connections the host accepts at once on each of its endpoints, gRPC (Kestrel's MaxConcurrentConnections) and the data plane:
    /// 1024. A worker holds one or two gRPC connections per shard and, over the data plane, one more per concurrent call (a
    /// pull beside a push), so a 64-worker job needs a few hundred; a connection beyond the limit is closed as soon as it is accepted, before anything is read,
    /// and the connections already open are unaffected.
    /// </summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>
    /// Bytes all push streams in flight may hold together (<see cref="PushMemoryBudget"/>): 1 GiB. Each push holds its
    /// shard-sized buffer plus one chunk (<see cref="MaxMessageBytes"/>) while it streams in, so with 1 M-parameter shards
    /// 1 GiB admits 128 pushes at once, two per worker of a 64-worker job. A push beyond it is refused with
    /// RESOURCE_EXHAUSTED before anything of it is read, and GpuPs workers retry it with backoff.
    /// </summary>
    public long MaxInflightPushBytes { get; init; } = 1L << 30;

    /// <summary>A connection with no call in flight for this long is closed (Kestrel's KeepAliveTimeout): 2 min; clients reconnect.</summary>
    public TimeSpan ConnectionIdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Time a client has to send a call's headers (Kestrel's RequestHeadersTimeout): 10 s, not Kestrel's 30 s.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After this much silence on a connection the server pings it (HTTP/2 PING): 30 s.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A connection that does not answer a ping within this time is closed, with its calls: 20 s.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The least the data plane checks of a frame (<c>--frame-checksum</c>): a client that asks for less in its Hello is
    /// refused (<see cref="Protocol.Frames.FrameChecksums.Agree"/>). Null (<c>auto</c>): XXH3 on plaintext TCP, none over
    /// TLS, whose AEAD already authenticates every record (<see cref="Protocol.Frames.FrameChecksums.Policy"/>).
    /// </summary>
    public Protocol.Frames.FrameChecksum? FrameChecksum { get; init; }

    /// <summary>Bytes one push to a shard of <paramref name="shardLength"/> parameters reserves from <see cref="MaxInflightPushBytes"/>.</summary>
    public long PushReservation(long shardLength) => shardLength * sizeof(float) + MaxMessageBytes;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first limit out of range.</summary>
    public void Validate()
    {
        if (MaxMessageBytes < 64 << 10)
            throw new ArgumentException($"max message bytes must be at least {64 << 10} (got {MaxMessageBytes}), and above the workers' chunk (1 MiB) plus 1 KiB");
        if (MaxInflightPushBytes < 1 << 20)
            throw new ArgumentException($"the in-flight push memory budget must be at least 1 MiB (got {MaxInflightPushBytes} bytes)");
        if (MaxConnections < 1)
            throw new ArgumentException($"max connections must be at least 1 (got {MaxConnections})");
        if (MaxStreamsPerConnection < 1)
            throw new ArgumentException($"max streams per connection must be at least 1 (got {MaxStreamsPerConnection})");
        foreach (var (name, value) in new[] { ("push idle timeout", PushIdleTimeout), ("connection idle timeout", ConnectionIdleTimeout), ("request headers timeout", RequestHeadersTimeout) })
            if (value <= TimeSpan.Zero)
                throw new ArgumentException($"{name} must be positive (got {value.TotalMilliseconds} ms)");
        // Kestrel's own lower bound for both.
        foreach (var (name, value) in new[] { ("keep-alive ping delay", KeepAlivePingDelay), ("keep-alive ping timeout", KeepAlivePingTimeout) })
            if (value < TimeSpan.FromSeconds(1))
                throw new ArgumentException($"{name} must be at least 1000 ms (got {value.TotalMilliseconds} ms)");
    }
}
