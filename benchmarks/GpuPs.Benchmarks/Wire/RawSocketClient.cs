using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;

namespace GpuPs.Benchmarks.Wire;

/// <summary>The client side of <see cref="RawSocketSink"/>: one connection, one request at a time, over TLS when given its options.</summary>
internal sealed class RawSocketClient : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _push;      // request header and payload, sent in one write
    private readonly byte[] _pull = new byte[8];
    private readonly byte[] _reply;

    private RawSocketClient(Stream stream, int bytes)
    {
        _stream = stream;
        _push = new byte[8 + bytes];
        BinaryPrimitives.WriteInt32LittleEndian(_push, RawSocketSink.Push);
        BinaryPrimitives.WriteInt32LittleEndian(_push.AsSpan(4), bytes);
        BinaryPrimitives.WriteInt32LittleEndian(_pull, RawSocketSink.Pull);
        BinaryPrimitives.WriteInt32LittleEndian(_pull.AsSpan(4), bytes);
        _reply = new byte[Math.Max(4, bytes)];
    }

    public static async Task<RawSocketClient> ConnectAsync(string host, int port, int bytes, CancellationToken ct, SslClientAuthenticationOptions? tls = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(host, port, ct);
        var stream = new NetworkStream(socket, ownsSocket: true);
        if (tls is null) return new RawSocketClient(stream, bytes);
        var ssl = new SslStream(stream);
        await ssl.AuthenticateAsClientAsync(tls, ct);
        return new RawSocketClient(ssl, bytes);
    }

    public async Task PushAsync(CancellationToken ct)
    {
        await _stream.WriteAsync(_push, ct);
        await _stream.ReadExactlyAsync(_reply.AsMemory(0, 4), ct);
    }

    public async Task PullAsync(CancellationToken ct)
    {
        await _stream.WriteAsync(_pull, ct);
        await _stream.ReadExactlyAsync(_reply.AsMemory(0, _push.Length - 8), ct);
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
