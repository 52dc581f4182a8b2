using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using GpuPs.Core.Security;
using Serilog;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// The framed TCP data plane's own listener: a socket accept loop beside the gRPC host, every accepted connection served
/// by its own <see cref="TensorConnection"/> until either side closes it. Connections are independent: one that misbehaves
/// or dies mid-frame is closed and logged, the others go on. At most <see cref="ServerLimits.MaxConnections"/> are open at
/// once; one beyond that is closed as soon as it is accepted, before anything is read.
/// </summary>
/// <remarks>
/// Why not Kestrel (<c>UseConnectionHandler</c>, which served it before): Kestrel's socket transport hands a connection's
/// bytes over in 4 KiB pipe blocks, which held a 4 MiB push to 1,422 MB/s against 4,099 MB/s for a raw socket; reading the
/// socket directly into the push's buffer removes that copy and the ~1,000 continuations per push.
/// Usage: <c>await using var plane = DataPlaneListener.Start(endPoint, shard, auth, refusals, limits, budget, log);</c>
/// then advertise <see cref="Port"/>; disposing it stops accepting and closes every connection.
/// </remarks>
public sealed class DataPlaneListener : IAsyncDisposable
{
    // A stopping server waits this long for its connections to end after closing their sockets.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly int _shardIndex;
    private readonly RefusalLog _refusals;
    private readonly ServerLimits _limits;
    private readonly ILogger _log;
    private readonly TlsCredentials? _tls;
    private readonly Func<Socket, Stream, TensorConnection> _serve;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _open = new();
    private readonly Task _accepting;
    private int _count;

    private DataPlaneListener(Socket listener, IParameterShard shard, JobAuth auth, RefusalLog refusals, ServerLimits limits, PushMemoryBudget budget, ILogger log)
    {
        (_listener, _shardIndex, _refusals, _limits, _tls) = (listener, shard.Info.Index, refusals, limits, auth.Tls);
        _log = log.ForContext("Shard", shard.Info.Index);
        var parked = new ParkedPulls(shard);
        _serve = (socket, stream) => new TensorConnection(shard, auth, refusals, limits, budget, _log, socket, stream, _stop.Token, parked);
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>The bound port (the real one when port 0 was asked for).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>
    /// Binds <paramref name="endPoint"/> and starts accepting connections for <paramref name="shard"/>.
    /// </summary>
    /// <param name="endPoint">Where to listen; port 0 for a free one.</param>
    /// <param name="shard">The shard every connection serves.</param>
    /// <param name="auth">The job token a connection must present in its Hello frame (insecure: any); with
    /// <see cref="JobAuth.Tls"/> (a server on an <c>https://</c> URL), every connection must first complete a TLS handshake
    /// under that certificate and the same client rules as gRPC (<see cref="DataPlaneTls"/>), and a plaintext one is refused.</param>
    /// <param name="refusals">Where refused connections and frames are logged, at most one line a second.</param>
    /// <param name="limits">Deadlines: <see cref="ServerLimits.RequestHeadersTimeout"/> for the Hello,
    /// <see cref="ServerLimits.ConnectionIdleTimeout"/> between frames, <see cref="ServerLimits.PushIdleTimeout"/> within a
    /// frame and for each write; <see cref="ServerLimits.MaxConnections"/> open at once.</param>
    /// <param name="budget">The in-flight push memory shared with the gRPC edge: a push that does not fit is answered busy.</param>
    /// <param name="log">Receives the data plane's events, tagged with the shard.</param>
    /// <exception cref="SocketException">The address cannot be bound (in use, not local).</exception>
    public static DataPlaneListener Start(IPEndPoint endPoint, IParameterShard shard, JobAuth auth, RefusalLog refusals, ServerLimits limits,
        PushMemoryBudget budget, ILogger log)
    {
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        // Regions are unlinked once their client attached; a server that died between offering one and that left its file.
        if (Protocol.SharedMemory.SharedRegion.RemoveStale() is > 0 and var stale)
            log.Information("Data plane of shard {Shard} removed {Count} shared-memory files left by servers that are gone", shard.Info.Index, stale);
        return new DataPlaneListener(listener, shard, auth, refusals, limits, budget, log);
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException e)
            {
                if (_stop.IsCancellationRequested) return;
                _log.Warning("Data plane of shard {Shard} failed to accept a connection: {Reason}", _shardIndex, e.Message);
                continue;
            }
            if (Interlocked.Increment(ref _count) > _limits.MaxConnections)
            {
                Interlocked.Decrement(ref _count);
                _refusals.Refused("data plane", socket.RemoteEndPoint?.ToString() ?? "unknown peer",
                    $"{_limits.MaxConnections} connections are open (--max-connections); this one is closed");
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            // The dictionary holds the socket before its task can end and remove it.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _open[socket] = ServeAsync(socket, started.Task);
            started.SetResult();
        }
    }

    private async Task ServeAsync(Socket socket, Task started)
    {
        await started.ConfigureAwait(false);
        try
        {
            var stream = _tls is null
                ? new NetworkStream(socket, ownsSocket: false)
                : await DataPlaneTls.AcceptAsync(socket, _tls, _limits.RequestHeadersTimeout, _refusals, socket.RemoteEndPoint?.ToString() ?? "unknown peer", _stop.Token)
                    .ConfigureAwait(false);
            if (stream is null) return;
            await using var connection = _serve(socket, stream);
            await connection.RunAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // stopped during its TLS handshake
        }
        catch (Exception e)
        {
            _log.Error(e, "Data-plane connection of shard {Shard} failed", _shardIndex);
        }
        finally
        {
            socket.Dispose();   // whatever ended it: refused, stopped, failed (a connection has closed it already)
            _open.TryRemove(socket, out _);
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Stops accepting, closes every open connection (a frame in flight is not applied) and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        foreach (var socket in _open.Keys) socket.Dispose();
        try { await Task.WhenAll(_open.Values).WaitAsync(StopTimeout).ConfigureAwait(false); }
        catch (TimeoutException) { _log.Warning("Data plane of shard {Shard}: {Count} connections did not end within {Seconds} s of the stop", _shardIndex, _open.Count, StopTimeout.TotalSeconds); }
    }
}
