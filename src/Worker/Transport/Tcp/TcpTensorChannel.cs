using System.Collections.Concurrent;
using System.Net.Security;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;

namespace GpuPs.Worker.Transport.Tcp;

/// <summary>
/// The framed TCP data plane to one shard (<c>TensorConnectionHandler</c> on the server): length-prefixed binary frames
/// with a checksum, authenticated with the job token once per connection. Pushes are written from the gradient's memory
/// and pulls read into the destination's, with no copy in .NET. Same contract as every <see cref="ITensorChannel"/>:
/// deadlines, cancellation, failures as <see cref="ShardException"/>, refusals as <see cref="PushOutcome"/>.
/// </summary>
/// <remarks>
/// <para>Each connection carries one request at a time; concurrent calls (a worker's prefetching pull beside its push)
/// take separate connections from a small pool, opened on demand and kept while they work. A call that fails on the way
/// discards its connection; a retry (the caller's decision) opens a fresh one.</para>
/// <para>A pull names its deadline to the server, which answers Timeout just before the client's own deadline (the
/// client waits <see cref="PullGrace"/> longer), so a pull that waits for slow workers ends with an answer, not a
/// broken connection.</para>
/// Usage: <c>await using var tcp = new TcpTensorChannel("10.0.0.5", 5001, shard: 0, JobAuth.WithToken(token), TimeSpan.FromSeconds(30));</c>
/// </remarks>
public sealed class TcpTensorChannel : ITensorChannel, IAsyncDisposable
{
    /// <summary>How much longer than the server's wait a pull's client-side deadline is.</summary>
    public static readonly TimeSpan PullGrace = TimeSpan.FromSeconds(2);

    private readonly ConcurrentStack<FrameConnection> _idle = new();
    private readonly JobAuth _auth;
    private readonly TimeSpan _defaultTimeout;
    private readonly SslClientAuthenticationOptions? _tls;
    private readonly FrameChecksum? _checksum;
    private volatile SharedMemoryUse _sharedMemory;
    private volatile bool _attached;
    private volatile bool _disposed;

    /// <summary>A channel to shard <paramref name="shard"/>'s data plane at <paramref name="host"/>:<paramref name="port"/>; it connects on the first call.</summary>
    /// <param name="host">The data plane's host.</param>
    /// <param name="port">The data plane's port.</param>
    /// <param name="shard">The shard expected there.</param>
    /// <param name="auth">The job token each connection presents.</param>
    /// <param name="defaultTimeout">The deadline of a call that names none.</param>
    /// <param name="sharedMemory">Whether each connection asks for a shared-memory region (<see cref="SharedMemoryUse"/>).</param>
    /// <param name="tls">Null: plaintext (a server on an <c>http://</c> address). Else every connection is TLS, the server's
    /// certificate checked as these options say (<see cref="TlsCredentials.ClientOptions"/>, as the gRPC channel checks
    /// it) before the token goes out; a server that does not complete the handshake is refused, never sent to.</param>
    /// <param name="checksum">The frame checksum each connection asks for; null: whatever the server's policy is
    /// (<c>--frame-checksum</c>). A server whose policy checks more refuses the connection (InvalidRequest).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="defaultTimeout"/> is not positive.</exception>
    public TcpTensorChannel(string host, int port, int shard, JobAuth auth, TimeSpan defaultTimeout, SharedMemoryUse sharedMemory = SharedMemoryUse.None,
        SslClientAuthenticationOptions? tls = null, FrameChecksum? checksum = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(defaultTimeout, TimeSpan.Zero);
        (Host, Port, Shard, _auth, _defaultTimeout, _sharedMemory, _tls, _checksum) = (host, port, shard, auth, defaultTimeout, sharedMemory, tls, checksum);
    }

    /// <summary>Connections are TLS.</summary>
    public bool Tls => _tls is not null;

    /// <summary>A connection of this channel has attached a shared-memory region: payloads go through memory, not the socket.</summary>
    public bool SharedMemory => _attached;

    /// <summary>What covers large payloads on this channel's connections, as the last one's handshake agreed (<see cref="FrameChecksum.Xxh3"/> before any).</summary>
    public FrameChecksum Checksum { get; private set; } = FrameChecksum.Xxh3;

    /// <summary>The data plane's host.</summary>
    public string Host { get; }

    /// <summary>The data plane's port.</summary>
    public int Port { get; }

    /// <summary>The shard the channel serves (checked in the handshake).</summary>
    public int Shard { get; }

    /// <inheritdoc />
    public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        PullAsync(workerId, minStep, 0, destination, cancellationToken, timeout);

    /// <inheritdoc />
    public async Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var wait = timeout ?? _defaultTimeout;
        var connection = await RentAsync(wait, cancellationToken).ConfigureAwait(false);
        try
        {
            return await connection.PullAsync(workerId, minStep, viewVersion, destination, wait, wait + PullGrace, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(connection);
        }
    }

    /// <inheritdoc />
    public async Task<PullResult> PullPieceAsync(int workerId, long minStep, PieceRange piece, Memory<float> destination, int shardLength,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var wait = timeout ?? _defaultTimeout;
        var connection = await RentAsync(wait, cancellationToken).ConfigureAwait(false);
        try
        {
            return await connection.PullAsync(workerId, minStep, 0, destination, wait, wait + PullGrace, cancellationToken, piece).ConfigureAwait(false);
        }
        finally
        {
            Return(connection);
        }
    }

    /// <inheritdoc />
    /// <remarks><paramref name="gradient"/> is sent from its own memory and must not change until the task completes.</remarks>
    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        var limit = timeout ?? _defaultTimeout;
        var connection = await RentAsync(limit, cancellationToken).ConfigureAwait(false);
        try
        {
            return await connection.PushAsync(header, gradient, encoding, limit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(connection);
        }
    }

    /// <inheritdoc />
    public bool FusesPushPull => true;

    /// <inheritdoc />
    /// <remarks>
    /// One PushPull frame: the server answers the push, then (when it was applied) the parameters once the shard reached
    /// <paramref name="minStep"/>, waiting at most the call's timeout for it (the client waits <see cref="PullGrace"/> longer).
    /// </remarks>
    public async Task<FusedPushPull> PushPullAsync(PushHeader header, ReadOnlyMemory<float> gradient, long minStep, Memory<float> destination,
        CancellationToken cancellationToken, TimeSpan? timeout = null, TensorEncoding encoding = TensorEncoding.Float32)
    {
        var wait = timeout ?? _defaultTimeout;
        var connection = await RentAsync(wait, cancellationToken).ConfigureAwait(false);
        try
        {
            var request = new PushPullRequest(minStep, (int)Math.Clamp(wait.TotalMilliseconds, 1, int.MaxValue));
            return await connection.PushPullAsync(header, gradient, encoding, request, destination, wait + PullGrace, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(connection);
        }
    }

    /// <summary>Closes every idle connection; calls in flight close theirs when they end.</summary>
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idle.TryPop(out var connection)) connection.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// An idle connection, or a new one. With <see cref="SharedMemoryUse.Try"/>, the first connection whose region is
    /// refused turns the channel to plain TCP (no later connection asks again); with <see cref="SharedMemoryUse.Require"/>
    /// a refused region fails the call.
    /// </summary>
    private async ValueTask<FrameConnection> RentAsync(TimeSpan timeout, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryPop(out var idle)) return idle;
        var use = _sharedMemory;
        var connection = await FrameConnection.OpenAsync(Host, Port, Shard, _auth, timeout, ct, use != SharedMemoryUse.None, _tls, _checksum).ConfigureAwait(false);
        Checksum = connection.Checksum;
        if (connection.SharedMemory) _attached = true;
        else if (connection.SharedMemoryRefusal is { } refusal)
        {
            if (use == SharedMemoryUse.Require)
            {
                connection.Dispose();
                throw ShardException.Invalid($"{refusal} (--transport shm needs the server on this host and its shared memory; use --transport auto or tcp)");
            }
            _sharedMemory = SharedMemoryUse.None;
        }
        return connection;
    }

    private void Return(FrameConnection connection)
    {
        if (connection.Broken || _disposed) connection.Dispose();
        else _idle.Push(connection);
    }
}
