using System.Net;
using System.Net.Sockets;

namespace GpuPs.Cli.Bench.Chaos;

/// <summary>
/// A loopback TCP forwarder in front of one server, so that a fault injector can drop every connection through it at
/// once (reset, as a broken network does) while the server itself runs on. Byte-transparent: HTTP/2, with or without TLS.
/// </summary>
/// <remarks>Usage: <c>await using var proxy = ConnectionDropProxy.Start(serverPort);</c> then connect to <see cref="Port"/>; <see cref="DropAll"/> from any thread.</remarks>
public sealed class ConnectionDropProxy : TcpForwarder
{
    private readonly int _target;
    private readonly Lock _gate = new();
    private readonly List<Socket> _open = [];

    private ConnectionDropProxy(int target) : base(new IPEndPoint(IPAddress.Loopback, 0))
    {
        _target = target;
        StartAccepting();
    }

    /// <summary>Starts forwarding connections on a free loopback port to <paramref name="targetPort"/> on loopback.</summary>
    public static ConnectionDropProxy Start(int targetPort) => new(targetPort);

    /// <summary>Resets every connection open through the proxy (both sides); returns how many client connections there were.</summary>
    public int DropAll()
    {
        Socket[] open;
        lock (_gate)
        {
            open = [.. _open];
            _open.Clear();
        }
        foreach (var socket in open)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);   // close with RST, not FIN
                socket.Close();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
        return open.Length / 2;
    }

    /// <summary>On dispose, resets every open connection.</summary>
    protected override void OnStopping() => DropAll();

    /// <inheritdoc />
    protected override async Task ForwardAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        lock (_gate) _open.AddRange([client, server]);
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _target, Stopping.Token).ConfigureAwait(false);
            await Task.WhenAny(CopyAsync(client, server), CopyAsync(server, client)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            lock (_gate)
            {
                _open.Remove(client);
                _open.Remove(server);
            }
            client.Dispose();
            server.Dispose();
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 << 10];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, Stopping.Token).ConfigureAwait(false)) > 0)
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, Stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }
}
