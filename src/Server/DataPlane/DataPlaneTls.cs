using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using GpuPs.Core.Security;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// The TLS edge of the data plane of a server on an <c>https://</c> URL: a connection must open with a TLS handshake under
/// the server's certificate (with mutual TLS, presenting a client certificate its authority issued, as gRPC requires)
/// before any frame is read, so the Hello with the job token, the tensors and the shared-memory handshake all travel
/// inside TLS. No downgrade: a connection that opens with anything but a TLS record is handed on as the plain stream it
/// is, and its <see cref="TensorConnection"/> refuses it with an Error frame (a plaintext client can read why) before
/// it reads a token or a tensor; a failed handshake is logged and closed.
/// </summary>
internal static class DataPlaneTls
{
    // Every TLS connection opens with a record of content type handshake (22) carrying the ClientHello.
    private const byte HandshakeRecord = 0x16;

    /// <summary>
    /// The accepted <paramref name="socket"/>'s stream: an <see cref="SslStream"/> authenticated within
    /// <paramref name="timeout"/>; the plain stream when the client sent no TLS record first (to be refused); null when the
    /// client closed before sending anything or its handshake failed or timed out (logged through
    /// <paramref name="refusals"/>). Never throws but for <paramref name="ct"/>, the server's stop.
    /// </summary>
    public static async Task<Stream?> AcceptAsync(Socket socket, TlsCredentials tls, TimeSpan timeout, RefusalLog refusals, string peer, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var plain = new NetworkStream(socket, ownsSocket: false);
        SslStream? ssl = null;
        try
        {
            // Peeked, not read: a plaintext client's Hello stays in the socket for the TensorConnection that refuses it.
            var first = new byte[1];
            if (await socket.ReceiveAsync(first, SocketFlags.Peek, deadline.Token).ConfigureAwait(false) == 0)
            {
                await plain.DisposeAsync().ConfigureAwait(false);
                return null;
            }
            if (first[0] != HandshakeRecord) return plain;
            ssl = new SslStream(plain, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsServerAsync(tls.ServerOptions(), deadline.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or OperationCanceledException)
        {
            await ((Stream?)ssl ?? plain).DisposeAsync().ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            refusals.Refused("data plane", peer, e is OperationCanceledException
                ? $"no TLS handshake within {timeout.TotalMilliseconds:F0} ms (--request-headers-timeout-ms); the connection is closed"
                : $"TLS handshake failed ({e.Message}): a client that does not trust this server's certificate, or, with mutual TLS, " +
                  "presents none its authority issued; the connection is closed before any frame is read");
            return null;
        }
    }
}
