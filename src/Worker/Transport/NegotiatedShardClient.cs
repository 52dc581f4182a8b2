using System.Net.Security;
using System.Net.Sockets;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Transport.Tcp;

namespace GpuPs.Worker.Transport;

/// <summary>
/// Both planes to one shard with the data plane negotiated at registration: control (register, heartbeat, status) goes
/// over gRPC; tensors go over the framed TCP data plane the server advertises in its <see cref="RegisterReply"/>
/// (<c>data_port</c>), payloads through shared memory on the server's host (<see cref="TransportChoice.Shm"/>, or
/// <see cref="TransportChoice.Auto"/> where the server offers it), or over gRPC when the worker asked for it or the server
/// offers none (<see cref="TransportChoice"/>). A re-registration (a restarted server) negotiates again. Thread-safe.
/// </summary>
/// <remarks>
/// Usage: <c>new TrainingWorker(options, backend, log, a => NegotiatedShardClient.Connect(a, auth, TransportChoice.Auto));</c>
/// Until registration, tensors go over gRPC; so they do when the data plane's port stops accepting connections, until the
/// next registration.
/// </remarks>
public sealed class NegotiatedShardClient : IShardControl, ITensorChannel, IAsyncDisposable
{
    private readonly GrpcShardClient _grpc;
    private readonly TransportChoice _choice;
    private readonly JobAuth _auth;
    private readonly TimeSpan _timeout;
    private TcpTensorChannel? _tcp;

    /// <summary>A client of the shard at <paramref name="address"/> (<c>http://host:port</c>); it connects on the first call.</summary>
    public NegotiatedShardClient(string address, JobAuth auth, TransportChoice choice, ShardClientOptions? options = null)
    {
        options ??= new ShardClientOptions();
        _grpc = new GrpcShardClient(address, auth, options);
        (_choice, _auth, _timeout) = (choice, auth, options.DefaultTimeout);
    }

    /// <summary>Both planes to <paramref name="address"/> over one negotiating client.</summary>
    public static ShardConnection Connect(string address, JobAuth auth, TransportChoice choice, ShardClientOptions? options = null)
    {
        var client = new NegotiatedShardClient(address, auth, choice, options);
        return new ShardConnection(address, client, client);
    }

    /// <summary>The shard's gRPC address.</summary>
    public string Address => _grpc.Address;

    /// <summary>
    /// The data plane tensors go over now: <c>tcp://host:port</c>, <c>shm://host:port</c> once a connection attached shared
    /// memory (the TCP connection is its doorbell), either with <c>+tls</c> over TLS, or the gRPC address.
    /// </summary>
    public string DataPlane => Volatile.Read(ref _tcp) is { } tcp ? $"{(tcp.SharedMemory ? "shm" : "tcp")}{(tcp.Tls ? "+tls" : "")}://{tcp.Host}:{tcp.Port}" : _grpc.Address;

    /// <inheritdoc />
    /// <exception cref="ShardException">InvalidRequest: <see cref="TransportChoice.Tcp"/> was asked for and the server offers no data plane.</exception>
    public async Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var reply = await _grpc.RegisterAsync(request, cancellationToken, timeout).ConfigureAwait(false);
        await NegotiateAsync(reply).ConfigureAwait(false);
        return reply;
    }

    /// <inheritdoc />
    public Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        _grpc.HeartbeatAsync(request, cancellationToken, timeout);

    /// <inheritdoc />
    public Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        _grpc.AwaitPushTurnAsync(request, cancellationToken, timeout);

    /// <inheritdoc />
    public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => _grpc.StatusAsync(cancellationToken, timeout);

    /// <inheritdoc />
    public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        WithFallbackAsync(channel => channel.PullAsync(workerId, minStep, destination, cancellationToken, timeout));

    /// <inheritdoc />
    public Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        WithFallbackAsync(channel => channel.PullAsync(workerId, minStep, viewVersion, destination, cancellationToken, timeout));

    /// <inheritdoc />
    public Task<PullResult> PullPieceAsync(int workerId, long minStep, PieceRange piece, Memory<float> destination, int shardLength,
        CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        WithFallbackAsync(channel => channel.PullPieceAsync(workerId, minStep, piece, destination, shardLength, cancellationToken, timeout));

    /// <inheritdoc />
    public Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32) =>
        WithFallbackAsync(channel => channel.PushAsync(header, gradient, cancellationToken, timeout, encoding));

    /// <inheritdoc />
    public bool FusesPushPull => Volatile.Read(ref _tcp) is not null;

    /// <inheritdoc />
    public Task<FusedPushPull> PushPullAsync(PushHeader header, ReadOnlyMemory<float> gradient, long minStep, Memory<float> destination,
        CancellationToken cancellationToken, TimeSpan? timeout = null, TensorEncoding encoding = TensorEncoding.Float32) =>
        WithFallbackAsync(channel => channel.PushPullAsync(header, gradient, minStep, destination, cancellationToken, timeout, encoding));

    /// <summary>Closes both planes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _tcp, null) is { } tcp) await tcp.DisposeAsync().ConfigureAwait(false);
        await _grpc.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// One call on the negotiated plane. When the data plane's port accepts no connection (the server restarted on
    /// another port, or it lost its data plane), the call goes over gRPC instead, and so do later ones until the next
    /// registration negotiates again: over gRPC a restarted server answers UnknownWorker, which makes the worker rejoin.
    /// </summary>
    private async Task<T> WithFallbackAsync<T>(Func<ITensorChannel, Task<T>> call)
    {
        var tcp = Volatile.Read(ref _tcp);
        if (tcp is null) return await call(_grpc).ConfigureAwait(false);
        try
        {
            return await call(tcp).ConfigureAwait(false);
        }
        catch (ShardException e) when (e.InnerException is SocketException
                                       {
                                           SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                                       })
        {
            if (Interlocked.CompareExchange(ref _tcp, null, tcp) == tcp) await tcp.DisposeAsync().ConfigureAwait(false);
            return await call(_grpc).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The data plane's TLS: a server reached over <c>https://</c> serves its data plane over TLS only, and this client
    /// speaks nothing else to it (no downgrade), checking the certificate as the gRPC channel does, for the gRPC address's
    /// host (the name the certificate carries, whatever address the data plane advertises); null over <c>http://</c>.
    /// </summary>
    private SslClientAuthenticationOptions? DataPlaneTls()
    {
        var address = new Uri(Address);
        return address.Scheme == Uri.UriSchemeHttps ? TlsCredentials.ClientOptions(_auth.Tls, address.IdnHost.Trim('[', ']')) : null;
    }

    /// <summary>Chooses the data plane from the server's advert; a changed advert (a restarted server) replaces the channel.</summary>
    private async ValueTask NegotiateAsync(RegisterReply reply)
    {
        if (_choice == TransportChoice.Grpc) return;
        if (reply.DataPort <= 0)
        {
            if (_choice is TransportChoice.Tcp or TransportChoice.Shm)
                throw ShardException.Invalid($"{Address} offers no TCP data plane (--transport {_choice.ToString().ToLowerInvariant()} needs a server started with a data port); use --transport auto or grpc");
            if (Interlocked.Exchange(ref _tcp, null) is { } gone) await gone.DisposeAsync().ConfigureAwait(false);
            return;
        }
        var host = reply.DataHost is { Length: > 0 } advertised ? advertised : new Uri(Address).Host;
        if (Volatile.Read(ref _tcp) is { } current && current.Host == host && current.Port == reply.DataPort && current.Shard == reply.Shard.Index) return;
        var sharedMemory = _choice switch
        {
            TransportChoice.Shm => SharedMemoryUse.Require,
            TransportChoice.Auto when LocalHost.Is(host) => SharedMemoryUse.Try,
            _ => SharedMemoryUse.None,
        };
        var replaced = Interlocked.Exchange(ref _tcp, new TcpTensorChannel(host, reply.DataPort, reply.Shard.Index, _auth, _timeout, sharedMemory, DataPlaneTls()));
        if (replaced is not null) await replaced.DisposeAsync().ConfigureAwait(false);
    }
}
