using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The raw-socket reference of the wire benchmark: the least a length-prefixed protocol can do over the same loopback
/// between the same two processes. A request is 8 bytes (operation, length); a push carries its payload and is answered
/// with 4 bytes, a pull is answered with the payload. One request in flight per connection, as in a worker's step. Given
/// a certificate, every connection is TLS first (the least a TLS protocol can do: the reference of the TLS paths).
/// </summary>
internal sealed class RawSocketSink : IAsyncDisposable
{
    /// <summary>Request operation: the payload follows; the sink answers 4 bytes.</summary>
    public const int Push = 1;

    /// <summary>Request operation: the sink answers with <c>length</c> bytes.</summary>
    public const int Pull = 2;

    private readonly Socket _listener;
    private readonly Task _accepting;
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2? _certificate;

    private RawSocketSink(Socket listener, X509Certificate2? certificate)
    {
        (_listener, _certificate) = (listener, certificate);
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Listens on a free loopback port; over TLS with <paramref name="certificate"/> when given.</summary>
    public static RawSocketSink Start(X509Certificate2? certificate = null)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        return new RawSocketSink(listener, certificate);
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                socket.NoDelay = true;
                _ = Task.Run(() => ServeAsync(socket));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using Stream stream = _certificate is null ? new NetworkStream(socket, ownsSocket: true) : new SslStream(new NetworkStream(socket, ownsSocket: true));
        var request = new byte[8];
        var payload = Array.Empty<byte>();
        try
        {
            if (stream is SslStream ssl) await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate });
            while (await stream.ReadAtLeastAsync(request, request.Length, throwOnEndOfStream: false) == request.Length)
            {
                int op = BinaryPrimitives.ReadInt32LittleEndian(request), length = BinaryPrimitives.ReadInt32LittleEndian(request.AsSpan(4));
                if (payload.Length < length) payload = new byte[length];
                if (op == Push)
                {
                    await stream.ReadExactlyAsync(payload.AsMemory(0, length));
                    await stream.WriteAsync(request.AsMemory(4, 4));
                }
                else
                {
                    await stream.WriteAsync(payload.AsMemory(0, length));
                }
            }
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
