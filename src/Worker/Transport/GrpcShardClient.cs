using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Worker.Transport;

/// <summary>Settings of a <see cref="GrpcShardClient"/>.</summary>
public sealed record ShardClientOptions
{
    /// <summary>
    /// Deadline of a call made without an explicit timeout. Every call has one: a 4 MiB unary pull without a deadline was
    /// once seen to hang forever.
    /// </summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes of gradient per pushed chunk (rounded down to whole floats, at least one).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Interval of HTTP/2 keep-alive pings while calls are in flight, so that a dead server fails a long blocked pull.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a keep-alive ping may go unanswered before the connection (and its calls) fails.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Both planes to one shard over gRPC (HTTP/2), with the hand-written tensor marshallers of <see cref="ParameterServerMethods"/>.
/// Every call carries the job's token (<see cref="JobAuth"/>) as <c>authorization: Bearer TOKEN</c>.
/// Thread-safe; calls may run concurrently. The status a call ends with is mapped back to the domain by
/// <see cref="WireStatus"/>: a refused push is a <see cref="PushOutcome"/>, a failure a <see cref="ShardException"/>;
/// retrying is the caller's decision. Usage:
/// <code>
/// await using var shard = new GrpcShardClient("http://127.0.0.1:5000", JobAuth.WithToken(token));
/// var reg = await shard.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, ct);
/// var pulled = await shard.PullAsync(reg.WorkerId, minStep: 0, parameters, ct);
/// var outcome = await shard.PushAsync(new PushHeader(reg.WorkerId, pulled.Step, pulled.Shard, rows, loss), gradient, ct);
/// </code>
/// </summary>
/// <remarks>
/// Pulls and pushes use separate channels, hence separate HTTP/2 connections (measured on 2-core loopback: two channels
/// beat one, since each connection has one writer and one reader loop). The small control calls share the pull channel.
/// A push sends chunks that are slices of the caller's gradient, serialized straight from it; a pull's reply is
/// deserialized into a pooled buffer and copied once into the caller's destination.
/// </remarks>
public sealed class GrpcShardClient : ITensorChannel, IShardControl, IAsyncDisposable
{
    // SocketsHttpHandler's default 64 KiB initial stream window, grown by its dynamic window sizing, makes the first pulls
    // of a 4 MiB tensor stall on WINDOW_UPDATE round trips; start with room for a whole tensor.
    private const int StreamWindowBytes = 8 << 20;

    private readonly GrpcChannel _pullChannel;
    private readonly GrpcChannel _pushChannel;
    private readonly CallInvoker _pull;
    private readonly CallInvoker _push;
    private readonly ShardClientOptions _options;
    private readonly JobAuth _auth;
    private readonly int _chunkFloats;

    /// <summary>
    /// A client of the shard at <paramref name="address"/> (<c>http://host:port</c>, or <c>https://host:port</c> for TLS:
    /// the server's certificate is checked against <see cref="JobAuth.Tls"/>'s authority, or the system's trust store
    /// without one, and the client presents its certificate, if it has one); it connects on the first call.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The options' <c>DefaultTimeout</c> is not positive.</exception>
    /// <exception cref="ArgumentException">TLS credentials with an address that is not <c>https://</c> (the token and
    /// the tensors would cross the network in cleartext though TLS was asked for).</exception>
    public GrpcShardClient(string address, JobAuth auth, ShardClientOptions? options = null)
    {
        if (auth.Tls is not null && !address.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"TLS credentials are given, yet the server address {address} is not https://");
        _auth = auth;
        _options = options ?? new ShardClientOptions();
        if (_options.DefaultTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "DefaultTimeout must be positive.");
        _chunkFloats = Math.Max(1, _options.ChunkBytes / sizeof(float));
        Address = address;
        _pullChannel = CreateChannel(address, auth.Tls, _options);
        _pushChannel = CreateChannel(address, auth.Tls, _options);
        _pull = _pullChannel.CreateCallInvoker();
        _push = _pushChannel.CreateCallInvoker();
    }

    /// <summary>The shard's address, as given at construction.</summary>
    public string Address { get; }

    /// <summary>Both planes to <paramref name="address"/> over one client.</summary>
    public static ShardConnection Connect(string address, JobAuth auth, ShardClientOptions? options = null)
    {
        var client = new GrpcShardClient(address, auth, options);
        return new ShardConnection(address, client, client);
    }

    /// <inheritdoc />
    public Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Unary(ParameterServerMethods.Register, request, cancellationToken, timeout);

    /// <inheritdoc />
    /// <exception cref="ShardException">InvalidRequest: the shard's length differs from <paramref name="destination"/>'s.</exception>
    public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        PullAsync(workerId, minStep, 0, destination, cancellationToken, timeout);

    /// <inheritdoc />
    /// <exception cref="ShardException">InvalidRequest: the shard's length differs from <paramref name="destination"/>'s.</exception>
    public async Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var request = new PullRequest { WorkerId = workerId, MinStep = minStep, ViewVersion = viewVersion };
        using var frame = await Unary(ParameterServerMethods.Pull, request, cancellationToken, timeout).ConfigureAwait(false);
        if (frame.Length != destination.Length)
            throw ShardException.Invalid($"Shard {frame.Shard} at {Address} sent {frame.Length} parameters; the destination holds {destination.Length}.");
        frame.Values.Span.CopyTo(destination.Span);
        return frame.Result;
    }

    /// <inheritdoc />
    public async Task<PullResult> PullPieceAsync(int workerId, long minStep, PieceRange piece, Memory<float> destination, int shardLength,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var request = new PullRequest { WorkerId = workerId, MinStep = minStep, PieceOffset = piece.Offset, PieceLength = piece.Length };
        using var frame = await Unary(ParameterServerMethods.Pull, request, cancellationToken, timeout).ConfigureAwait(false);
        if (frame.Length != destination.Length)
            throw ShardException.Invalid($"Shard {frame.Shard} at {Address} sent {frame.Length} parameters for piece {piece}; the destination holds {destination.Length}.");
        frame.Values.Span.CopyTo(destination.Span);
        return frame.Result;
    }

    /// <inheritdoc />
    /// <remarks>
    /// <paramref name="gradient"/> is read while the call runs and must not change until the returned task completes.
    /// Every chunk repeats the header, so that each chunk is self-describing; an empty shard still sends one (empty)
    /// chunk.
    /// </remarks>
    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        try
        {
            using var call = _push.AsyncClientStreamingCall(ParameterServerMethods.Push, null, CallOptions(cancellationToken, timeout));
            // A sign chunk's blocks start at its offset: chunks hold whole blocks, so the sender's blocks stay the wire's.
            int chunkFloats = encoding == TensorEncoding.Sign ? Math.Max(1, _chunkFloats / SignCodec.BlockSize) * SignCodec.BlockSize : _chunkFloats;
            try
            {
                var offset = 0;
                int start = header.Piece?.Offset ?? 0;   // a piece's chunks carry their offsets within the shard
                do
                {
                    var count = Math.Min(chunkFloats, gradient.Length - offset);
                    await call.RequestStream.WriteAsync(new PushChunkFrame(header, start + offset, gradient.Slice(offset, count), encoding)).ConfigureAwait(false);
                    offset += count;
                }
                while (offset < gradient.Length);
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A server that refuses a push may end the call while chunks are still being written; the write then fails
                // and the server's status (with its message) is in the response: surface that. Bounded by the deadline.
                await call.ResponseAsync.ConfigureAwait(false);
                throw;
            }
            var reply = await call.ResponseAsync.ConfigureAwait(false);
            return PushOutcome.Applied(reply.Step, reply.Applied, reply.Finished);
        }
        catch (RpcException e) when (WireStatus.OutcomeOf(e) is { } refused)
        {
            return refused;
        }
        catch (RpcException e)
        {
            throw WireStatus.FromRpc(e, Address, cancellationToken);
        }
    }

    /// <inheritdoc />
    public Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Unary(ParameterServerMethods.Heartbeat, request, cancellationToken, timeout);

    /// <inheritdoc />
    public Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Unary(ParameterServerMethods.AwaitPushTurn, request, cancellationToken, timeout);

    /// <inheritdoc />
    public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Unary(ParameterServerMethods.Status, new StatusRequest(), cancellationToken, timeout);

    /// <summary>Closes both channels; calls still in flight fail.</summary>
    public ValueTask DisposeAsync()
    {
        _pullChannel.Dispose();
        _pushChannel.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>One unary call on the pull channel, its failure mapped to the domain.</summary>
    private async Task<TResponse> Unary<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CancellationToken cancellationToken, TimeSpan? timeout)
        where TRequest : class where TResponse : class
    {
        try
        {
            using var call = _pull.AsyncUnaryCall(method, null, CallOptions(cancellationToken, timeout), request);
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw WireStatus.FromRpc(e, Address, cancellationToken);
        }
    }

    private CallOptions CallOptions(CancellationToken cancellationToken, TimeSpan? timeout) =>
        new(headers: _auth.Token is { } token ? new Metadata { { JobToken.MetadataKey, token.HeaderValue } } : null,
            deadline: DateTime.UtcNow + (timeout ?? _options.DefaultTimeout), cancellationToken: cancellationToken);

    private static GrpcChannel CreateChannel(string address, TlsCredentials? tls, ShardClientOptions options) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = TlsCredentials.ClientOptions(tls, targetHost: null),
                EnableMultipleHttp2Connections = true,
                InitialHttp2StreamWindowSize = StreamWindowBytes,
                KeepAlivePingDelay = options.KeepAlivePingDelay,
                KeepAlivePingTimeout = options.KeepAlivePingTimeout,
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            },
            DisposeHttpClient = true,
            // Pull replies carry a whole shard; the server is a trusted peer whose limits apply on its side.
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
}
