using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The raw-socket reference of the wire benchmark: the least a length-prefixed protocol can do over the same loopback
/// between the same two processes. A request is 8 bytes (operation, length); a push carries its payload and is answered
/// with 4 bytes, a pull is answered with the payload. One request in flight per connection, as in a worker's step.
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

    private RawSocketSink(Socket listener)
    {
        _listener = listener;
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static RawSocketSink Start()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        return new RawSocketSink(listener);
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

    private static async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var request = new byte[8];
        var payload = Array.Empty<byte>();
        try
        {
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
        catch (IOException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
