using System.IO.Hashing;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using GpuPs.Protocol.Frames;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// A bare socket speaking data-plane frames byte by byte, with none of <c>TcpTensorChannel</c>'s checks, so that tests can
/// send what a broken or hostile peer would: corrupted, truncated, oversized or unauthenticated frames; over TLS when
/// given client options (the frames inside it, as hostile as ever).
/// </summary>
internal sealed class RawFrameClient : IDisposable
{
    private readonly Stream _stream;

    private RawFrameClient(Stream stream) => _stream = stream;

    public static async Task<RawFrameClient> ConnectAsync(int port, SslClientAuthenticationOptions? tls = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        var stream = new NetworkStream(socket, ownsSocket: true) { ReadTimeout = 20_000, WriteTimeout = 20_000 };
        if (tls is null) return new RawFrameClient(stream);
        var ssl = new SslStream(stream);
        await ssl.AuthenticateAsClientAsync(tls);
        return new RawFrameClient(ssl);
    }

    /// <summary>
    /// Connects and shakes hands with <paramref name="token"/> (the header value, e.g. <c>Bearer …</c>), asking for
    /// <paramref name="checksum"/> (null: the server's policy); asserts the Welcome.
    /// </summary>
    public static async Task<RawFrameClient> HelloAsync(int port, string token, int shard = 0, SslClientAuthenticationOptions? tls = null, FrameChecksum? checksum = null)
    {
        var client = await ConnectAsync(port, tls);
        var hello = FrameHeader.Of(FrameKind.Hello);
        (hello.Shard, hello.Part) = (shard, (int?)checksum ?? 0);
        client.Send(hello, Encoding.UTF8.GetBytes(token));
        var (welcome, _) = client.Read() ?? throw new InvalidOperationException("the server closed the connection instead of a Welcome");
        Assert.Equal(FrameKind.Welcome, welcome.Kind);
        return client;
    }

    /// <summary>Writes <paramref name="header"/> (sealed over <paramref name="payload"/> unless told not to) and the payload's first <paramref name="sendBytes"/> bytes.</summary>
    public void Send(FrameHeader header, byte[] payload, bool seal = true, int? sendBytes = null, bool setLength = true)
    {
        if (setLength) header.Length = payload.Length;
        if (seal) header.Seal(new XxHash3(), payload);
        var bytes = new byte[FrameHeader.Size];
        header.WriteTo(bytes);
        _stream.Write(bytes);
        _stream.Write(payload, 0, sendBytes ?? payload.Length);
    }

    /// <summary>Writes raw bytes.</summary>
    public void SendRaw(byte[] bytes) => _stream.Write(bytes);

    /// <summary>The next frame (header and payload), or null when the server closed the connection.</summary>
    public (FrameHeader Header, byte[] Payload)? Read()
    {
        var bytes = new byte[FrameHeader.Size];
        if (_stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length) return null;
        var header = FrameHeader.Read(bytes);
        var payload = new byte[header.Length];
        _stream.ReadExactly(payload);
        return (header, payload);
    }

    /// <summary>Asserts that the server answers with an Error of <paramref name="kind"/> containing <paramref name="message"/>, then closes the connection.</summary>
    public void AssertRefusedAndClosed(GpuPs.Core.Shards.ShardErrorKind kind, string message)
    {
        var (header, payload) = Read() ?? throw new Xunit.Sdk.XunitException("the server closed the connection without an Error frame");
        Assert.Equal(FrameKind.Error, header.Kind);
        Assert.Equal(kind, (GpuPs.Core.Shards.ShardErrorKind)header.Part);
        Assert.Contains(message, Encoding.UTF8.GetString(payload));
        Assert.Null(Read());
    }

    /// <summary>Closes the socket at once (a peer that dies).</summary>
    public void Dispose() => _stream.Dispose();
}
