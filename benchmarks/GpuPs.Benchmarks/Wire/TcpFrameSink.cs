using System.Net;
using System.Net.Sockets;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The raw-TCP reference: a loopback connection whose far end reads each length-prefixed frame completely and answers with
/// a 4-byte acknowledgement, so that one frame is in flight at a time, like a unary call.
/// </summary>
internal sealed class TcpFrameSink : IAsyncDisposable
{
    private readonly NetworkStream _client;
    private readonly Task _sink;
    private readonly byte[] _frame;
    private readonly byte[] _ack = new byte[4];

    private TcpFrameSink(NetworkStream client, Task sink, byte[] frame)
    {
        _client = client;
        _sink = sink;
        _frame = frame;
    }

    public static async Task<TcpFrameSink> StartAsync(long payloadBytes, CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accept = listener.AcceptAsync(ct);
        await client.ConnectAsync(listener.LocalEndPoint!, ct);
        var server = await accept;
        server.NoDelay = true;

        var frame = new byte[4 + payloadBytes];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), checked((int)payloadBytes));
        return new TcpFrameSink(new NetworkStream(client, ownsSocket: true), Task.Run(() => DrainAsync(server)), frame);
    }

    public async ValueTask SendFrameAsync(CancellationToken ct)
    {
        await _client.WriteAsync(_frame, ct);
        await _client.ReadExactlyAsync(_ack, ct);
    }

    /// <summary>Reads frames until the connection closes, acknowledging each with its length.</summary>
    private static async Task DrainAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var header = new byte[4];
        var payload = Array.Empty<byte>();
        while (await stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false) == 4)
        {
            var length = BitConverter.ToInt32(header);
            if (payload.Length < length) payload = new byte[length];
            await stream.ReadExactlyAsync(payload.AsMemory(0, length));
            await stream.WriteAsync(header);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Socket.Shutdown(SocketShutdown.Send);
        await _sink;
        await _client.DisposeAsync();
    }
}
