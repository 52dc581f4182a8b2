using System.Net;
using System.Net.Sockets;

namespace GpuPs.Cli.Bench;

/// <summary>
/// A TCP listener that hands every accepted connection to <see cref="ForwardAsync"/>, until disposed: what the benchmarks'
/// proxies (dropping connections, delaying links) have in common.
/// </summary>
public abstract class TcpForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private Task _accepting = Task.CompletedTask;

    /// <summary>Listens on <paramref name="listen"/> (port 0: a free one); accepting starts with <see cref="StartAccepting"/>.</summary>
    protected TcpForwarder(IPEndPoint listen)
    {
        _listener = new TcpListener(listen);
        _listener.Start();
    }

    /// <summary>Cancelled when the forwarder is disposed.</summary>
    protected CancellationTokenSource Stopping { get; } = new();

    /// <summary>The port clients connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Stops accepting, lets the subclass close what is open (<see cref="OnStopping"/>), and waits for the accept loop.</summary>
    public async ValueTask DisposeAsync()
    {
        Stopping.Cancel();
        _listener.Stop();
        OnStopping();
        try { await _accepting.ConfigureAwait(false); }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        Stopping.Dispose();
    }

    /// <summary>Starts the accept loop; called by the subclass once it is constructed.</summary>
    protected void StartAccepting() => _accepting = AcceptAsync();

    /// <summary>Serves one accepted connection (owns it); must not throw.</summary>
    protected abstract Task ForwardAsync(Socket client);

    /// <summary>Called on dispose, after the listener stopped.</summary>
    protected virtual void OnStopping() { }

    private async Task AcceptAsync()
    {
        while (!Stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(Stopping.Token).ConfigureAwait(false);
            _ = ForwardAsync(client);
        }
    }
}
