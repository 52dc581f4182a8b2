using System.Buffers;
using System.Diagnostics;
using System.IO.Hashing;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Protocol.SharedMemory;

namespace GpuPs.Worker.Transport.Tcp;

/// <summary>
/// One authenticated data-plane connection to a shard, carrying one request at a time (the caller serializes): a push
/// written from the gradient's own memory, a pull read straight into the destination's. Every call has a deadline; a call
/// that fails on the way (deadline, cancellation, a lost or corrupted stream) leaves the connection
/// <see cref="Broken"/>, and its owner discards it. Not thread-safe.
/// With a shared-memory region attached (<see cref="SharedRegion"/>, asked for when opened), push and pull payloads go
/// through the region and only their headers over the socket, which serves as the doorbell.
/// </summary>
internal sealed class FrameConnection : IDisposable
{
    private readonly Stream _stream;
    private readonly string _address;
    private readonly XxHash3 _hash = new();
    private readonly byte[] _header = new byte[FrameHeader.Size];
    private readonly byte[] _pullRequest = new byte[PushPullRequest.Bytes];
    private readonly byte[] _trailer = new byte[FrameHeader.TrailerBytes];
    private readonly byte[] _doorbell = new byte[FrameHeader.Size];
    private SharedRegion? _region;
    private readonly FloatBytes _tensorBytes = new();
    private readonly CancellationTokenSource _deadline = new();
    private FrameChecksum _checksum = FrameChecksum.Xxh3;   // the server's Welcome says what was agreed; before it every frame is checked

    private FrameConnection(Stream stream, string address)
    {
        _stream = stream;
        _address = address;
    }

    /// <summary>A call on it failed on the way; the stream is in an unknown state.</summary>
    public bool Broken { get; private set; }

    /// <summary>Payloads go through a shared-memory region.</summary>
    public bool SharedMemory => _region is not null;

    /// <summary>What covers a large payload on this connection, as its handshake agreed (<see cref="FrameChecksums.Agree"/>).</summary>
    public FrameChecksum Checksum => _checksum;

    /// <summary>Why a shared-memory region was asked for and not attached (the server offers none, the file cannot be mapped); null otherwise.</summary>
    public string? SharedMemoryRefusal { get; private set; }

    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> and shakes hands: with <paramref name="tls"/>, TLS first
    /// (the server's certificate checked as those options say; nothing is sent before it passed); then the job token, the
    /// shard expected, the frame checksum <paramref name="checksum"/> asks for (null: the server's policy; see
    /// <see cref="Checksum"/>); with <paramref name="sharedMemory"/>, then asks for a shared-memory region
    /// (<see cref="SharedMemoryRefusal"/> says why there is none: the connection then carries payloads itself).
    /// </summary>
    /// <exception cref="ShardException">Unauthenticated: the TLS handshake failed (a data plane without TLS, or a
    /// certificate these options do not trust), or the token was refused; InvalidRequest: the server's policy checks more
    /// than <paramref name="checksum"/> asks for; Unavailable, Timeout: the connection failed.</exception>
    public static async Task<FrameConnection> OpenAsync(string host, int port, int shard, JobAuth auth, TimeSpan timeout, CancellationToken ct, bool sharedMemory = false,
        SslClientAuthenticationOptions? tls = null, FrameChecksum? checksum = null)
    {
        var address = $"{(tls is null ? "tcp" : "tcp+tls")}://{host}:{port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            socket.Dispose();
            ct.ThrowIfCancellationRequested();
            throw e is SocketException
                ? new ShardException(ShardErrorKind.Unavailable, $"{address}: cannot connect to the data plane: {e.Message}", e)
                : new ShardException(ShardErrorKind.Timeout, $"deadline passed: {address} did not accept a connection within {timeout.TotalMilliseconds:F0} ms", e);
        }
        var connection = new FrameConnection(tls is null
            ? new NetworkStream(socket, ownsSocket: true)
            : await SecureAsync(new NetworkStream(socket, ownsSocket: true), tls, address, timeout, ct).ConfigureAwait(false), address);
        try
        {
            await connection.CallAsync(async token =>
            {
                var hello = FrameHeader.Of(FrameKind.Hello);
                (hello.Shard, hello.Part) = (shard, (int?)checksum ?? 0);
                byte[] credentials = auth.Token is { } t ? Encoding.UTF8.GetBytes(t.HeaderValue) : [];
                await connection.WriteFrameAsync(hello, credentials, token).ConfigureAwait(false);
                var welcome = await connection.ReadReplyAsync(FrameKind.Welcome, token).ConfigureAwait(false);
                if (welcome.Shard != shard)
                    throw new ShardException(ShardErrorKind.InvalidRequest, $"{address} serves shard {welcome.Shard}, not shard {shard}");
                await connection.ReadMessageAsync(welcome, token).ConfigureAwait(false);
                connection._checksum = welcome.Part switch
                {
                    (int)FrameChecksum.Xxh3 => FrameChecksum.Xxh3,
                    (int)FrameChecksum.None when checksum != FrameChecksum.Xxh3 => FrameChecksum.None,
                    _ => throw new ShardException(ShardErrorKind.Unavailable,
                        $"{address} agreed to frame checksum {welcome.Part} where {(checksum is { } asked ? FrameChecksums.Name(asked) : "its policy")} was asked for"),
                };
                if (sharedMemory) await connection.AttachAsync(shard, token).ConfigureAwait(false);
                return 0;
            }, timeout, ct).ConfigureAwait(false);
            return connection;
        }
        catch (ShardException e) when (tls is not null && e.Kind == ShardErrorKind.Unavailable && e.InnerException is IOException or SocketException)
        {
            // Under TLS 1.3 the client's handshake ends before the server has judged its certificate: a refusal is a bare
            // close. Still retried (a server that died at that moment looks the same), but the message says the likely cause.
            connection.Dispose();
            throw new ShardException(ShardErrorKind.Unavailable, $"{address} closed the connection right after the TLS handshake, before its Welcome: " +
                "how a data plane with mutual TLS refuses a client certificate it does not trust, or none (its log says which)", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The TLS handshake over <paramref name="plain"/> within <paramref name="timeout"/>: the authenticated stream, or a
    /// <see cref="ShardException"/> (and the stream closed). A refused certificate, or a peer that answers the ClientHello
    /// with anything but TLS (a data plane without it), is Unauthenticated: no retry makes it pass.
    /// </summary>
    private static async Task<Stream> SecureAsync(NetworkStream plain, SslClientAuthenticationOptions tls, string address, TimeSpan timeout, CancellationToken ct)
    {
        var ssl = new SslStream(plain, leaveInnerStreamOpen: false);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            await ssl.AuthenticateAsClientAsync(tls, deadline.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            throw e switch
            {
                AuthenticationException => new ShardException(ShardErrorKind.Unauthenticated,
                    $"{address}: TLS handshake with the data plane failed ({e.Message}): a data plane without TLS, or a certificate this worker does not " +
                    $"trust for {tls.TargetHost}; nothing was sent", e),
                IOException => new ShardException(ShardErrorKind.Unavailable, $"{address}: the data plane closed the connection during the TLS handshake: {e.Message}", e),
                _ => new ShardException(ShardErrorKind.Timeout, $"deadline passed: {address} did not complete a TLS handshake within {timeout.TotalMilliseconds:F0} ms", e),
            };
        }
    }

    /// <summary>
    /// The shared-memory handshake (<see cref="FrameKind.SharedMemory"/>): asks for a region, maps the file the server
    /// names, and proves it with the nonce read from the mapping. A server that offers none, or a file this process cannot
    /// map (another host, another user), leaves the connection as it was, the reason in <see cref="SharedMemoryRefusal"/>.
    /// </summary>
    private async Task AttachAsync(int shard, CancellationToken token)
    {
        await WriteFrameAsync(Stage(SharedMemoryStage.Offer), ReadOnlyMemory<byte>.Empty, token).ConfigureAwait(false);
        var offer = await ReadReplyHeaderAsync(FrameKind.SharedMemory, token).ConfigureAwait(false);
        var text = await ReadMessageAsync(offer, token).ConfigureAwait(false);
        if (offer.Kind == FrameKind.Error)
        {
            SharedMemoryRefusal = FrameAnswers.ErrorOf(offer, text, _address).Message;
            return;
        }
        if ((SharedMemoryStage)offer.Part != SharedMemoryStage.Region || offer.Count is <= 0 or > int.MaxValue)
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address} answered a shared-memory offer with {(SharedMemoryStage)offer.Part} of {offer.Count} bytes");
        SharedRegion region;
        try
        {
            region = SharedRegion.Open(text, (int)offer.Count);
        }
        catch (ShardException e)
        {
            SharedMemoryRefusal = $"{_address}: {e.Message}";
            await WriteFrameAsync(Stage(SharedMemoryStage.Decline), ReadOnlyMemory<byte>.Empty, token).ConfigureAwait(false);
            return;
        }
        try
        {
            await WriteFrameAsync(Stage(SharedMemoryStage.Attach), region.Nonce.ToArray(), token).ConfigureAwait(false);
            var attached = await ReadReplyAsync(FrameKind.SharedMemory, token).ConfigureAwait(false);
            await ReadMessageAsync(attached, token).ConfigureAwait(false);
            if ((SharedMemoryStage)attached.Part != SharedMemoryStage.Attached)
                throw new ShardException(ShardErrorKind.Unavailable, $"{_address} answered a shared-memory attach with {(SharedMemoryStage)attached.Part}");
            _region = region;
        }
        catch
        {
            region.Dispose();
            throw;
        }

        FrameHeader Stage(SharedMemoryStage stage)
        {
            var header = FrameHeader.Of(FrameKind.SharedMemory);
            (header.Part, header.Shard) = ((int)stage, shard);
            return header;
        }
    }

    /// <summary>Pushes one gradient; a refusal of the mode's rule is the returned outcome.</summary>
    public Task<PushOutcome> PushAsync(PushHeader push, ReadOnlyMemory<float> gradient, TensorEncoding encoding, TimeSpan timeout, CancellationToken ct) =>
        CallAsync(async token =>
        {
            await WritePushAsync(push, gradient, encoding, null, token).ConfigureAwait(false);
            return (await ReadOutcomeAsync(token).ConfigureAwait(false)).Outcome;
        }, timeout, ct);

    /// <summary>
    /// Pushes one gradient and, in the same round trip (a PushPull frame), pulls the parameters once the shard reached
    /// <paramref name="pull"/>'s min step into <paramref name="destination"/>. The pull is null when the push was not
    /// applied (the server answers a refused push alone) or the server could not answer it (an Error frame after the
    /// PushReply: the push stays applied, the connection stays usable); the caller then pulls separately. The server sends
    /// an applied push's reply with the pull's, saying how long it held it: the push counts as answered that long before.
    /// </summary>
    public Task<FusedPushPull> PushPullAsync(PushHeader push, ReadOnlyMemory<float> gradient, TensorEncoding encoding, PushPullRequest pull,
        Memory<float> destination, TimeSpan timeout, CancellationToken ct) =>
        CallAsync(async token =>
        {
            long sent = Stopwatch.GetTimestamp();
            await WritePushAsync(push, gradient, encoding, pull, token).ConfigureAwait(false);
            var (outcome, held) = await ReadOutcomeAsync(token).ConfigureAwait(false);
            long answered = Math.Max(sent, Stopwatch.GetTimestamp() - (long)(held.TotalSeconds * Stopwatch.Frequency));
            if (!outcome.IsApplied) return new FusedPushPull(outcome, answered, null);
            var reply = await ReadReplyHeaderAsync(FrameKind.PullReply, token).ConfigureAwait(false);
            if (reply.Kind == FrameKind.Error)
            {
                await ReadMessageAsync(reply, token).ConfigureAwait(false);
                return new FusedPushPull(outcome, answered, null);
            }
            return new FusedPushPull(outcome, answered, await ReadPullReplyAsync(reply, destination, token).ConfigureAwait(false));
        }, timeout, ct);

    /// <summary>A Push frame (a PushPull frame with <paramref name="pull"/>) of <paramref name="gradient"/> in <paramref name="encoding"/>.</summary>
    private async ValueTask WritePushAsync(PushHeader push, ReadOnlyMemory<float> gradient, TensorEncoding encoding, PushPullRequest? pull, CancellationToken token)
    {
        // A PushPull's payload starts with its pull request, a piece's with its range (the worker fuses whole tensors only).
        var prefix = PiecePrefix(push.Piece);
        if (pull is { } p)
        {
            if (push.Piece is not null) throw new ArgumentException("a piece cannot carry a pull: push pieces and pull separately", nameof(pull));
            p.WriteTo(_pullRequest);
            prefix = _pullRequest;
        }
        if (encoding != TensorEncoding.Float32)
        {
            int bytes = TensorCodec.EncodedBytes(encoding, gradient.Span);
            var encoded = ArrayPool<byte>.Shared.Rent(bytes);
            try
            {
                var payload = encoded.AsMemory(0, bytes);
                if (encoding == TensorEncoding.BFloat16) BFloat16.Encode(gradient.Span, payload.Span);
                else TensorCodec.Encode(encoding, gradient.Span, payload.Span);
                await WriteFrameAsync(PushFrame(push, encoding, pull is not null), payload, token, prefix).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(encoded);
            }
        }
        else
        {
            // The socket only reads the gradient; the byte view is writable in type alone.
            var payload = _tensorBytes.View(MemoryMarshal.AsMemory(gradient));
            await WriteFrameAsync(PushFrame(push, encoding, pull is not null), payload, token, prefix).ConfigureAwait(false);
        }
    }

    private static FrameHeader PushFrame(in PushHeader push, TensorEncoding encoding, bool fused)
    {
        var header = FrameAnswers.PushFrame(push, 0, encoding);
        if (fused) header.Kind = FrameKind.PushPull;
        return header;
    }

    /// <summary>A PushReply's outcome, and how long the server held the reply for a fused pull (its <c>count</c>, in µs).</summary>
    private async ValueTask<(PushOutcome Outcome, TimeSpan Held)> ReadOutcomeAsync(CancellationToken token)
    {
        var reply = await ReadReplyAsync(FrameKind.PushReply, token).ConfigureAwait(false);
        return (FrameAnswers.OutcomeOf(reply, await ReadMessageAsync(reply, token).ConfigureAwait(false)),
            TimeSpan.FromMicroseconds(Math.Max(0, reply.Count)));
    }

    /// <summary>
    /// Waits (the server waits at most <paramref name="wait"/>) for step <paramref name="minStep"/>, then reads the shard's
    /// parameters straight into <paramref name="destination"/>.
    /// </summary>
    /// <remarks>
    /// With a <paramref name="viewVersion"/> the server may answer with a compressed delta to the worker's copy
    /// (flagged sparse or sign, the new version in <c>Part</c>): it is read whole, checked and decoded into
    /// <paramref name="destination"/>.
    /// </remarks>
    public Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, TimeSpan wait, TimeSpan timeout, CancellationToken ct,
        PieceRange? piece = null) =>
        CallAsync(async token =>
        {
            var pull = FrameHeader.Of(FrameKind.Pull);
            (pull.Worker, pull.Count, pull.Part, pull.Step) = (workerId, minStep, (int)Math.Clamp(wait.TotalMilliseconds, 1, int.MaxValue), viewVersion);
            if (piece is not null) pull.Flags |= FrameFlags.Piece;
            await WriteFrameAsync(pull, ReadOnlyMemory<byte>.Empty, token, PiecePrefix(piece)).ConfigureAwait(false);
            var reply = await ReadReplyAsync(FrameKind.PullReply, token).ConfigureAwait(false);
            return await ReadPullReplyAsync(reply, destination, token).ConfigureAwait(false);
        }, timeout, ct);

    /// <summary>A PullReply's payload, read straight into <paramref name="destination"/> (or decoded there when compressed).</summary>
    private async Task<PullResult> ReadPullReplyAsync(FrameHeader reply, Memory<float> destination, CancellationToken token)
    {
        var encoding = FrameAnswers.EncodingOf(reply);
        if (TensorCodec.IsCompressed(encoding))
            return await ReadDeltaAsync(reply, encoding, destination, token).ConfigureAwait(false);
        var bytes = _tensorBytes.View(destination);
        if (reply.Length != bytes.Length)
        {
            Broken = true;
            throw ShardException.Invalid($"Shard {reply.Shard} at {_address} sent {reply.Length / sizeof(float)} parameters; the destination holds {destination.Length}.");
        }
        if (reply.InSharedMemory)
        {
            InRegion(reply).CopyTo(bytes.Span);
            return FrameAnswers.PullResultOf(reply, destination.Length);
        }
        // Hashed read by read, while each read's bytes are still in cache, rather than in a second pass.
        BeginPayload(reply);
        bool hashed = !reply.IsUnchecked;   // the connection agreed to --frame-checksum none (checked at its header)
        for (int filled = 0, read; filled < bytes.Length; filled += read)
        {
            read = await _stream.ReadAsync(bytes[filled..], token).ConfigureAwait(false);
            if (read == 0) throw new EndOfStreamException($"the server closed the connection after {filled} of the pull reply's {bytes.Length} bytes");
            if (hashed) _hash.Append(bytes.Span.Slice(filled, read));
        }
        await VerifyPayloadAsync(reply, token).ConfigureAwait(false);
        return FrameAnswers.PullResultOf(reply, destination.Length);
    }

    /// <summary>A compressed pull reply's payload, checked and decoded into <paramref name="destination"/>.</summary>
    private async Task<PullResult> ReadDeltaAsync(FrameHeader reply, TensorEncoding encoding, Memory<float> destination, CancellationToken ct)
    {
        if (reply.InSharedMemory)
        {
            Decode(InRegion(reply));
            return Result();
        }
        var bytes = ArrayPool<byte>.Shared.Rent(reply.Length);
        try
        {
            await _stream.ReadExactlyAsync(bytes.AsMemory(0, reply.Length), ct).ConfigureAwait(false);
            BeginPayload(reply);
            if (!reply.IsUnchecked) _hash.Append(bytes.AsSpan(0, reply.Length));
            await VerifyPayloadAsync(reply, ct).ConfigureAwait(false);
            Decode(bytes.AsSpan(0, reply.Length));
            return Result();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }

        void Decode(ReadOnlySpan<byte> payload)
        {
            try
            {
                TensorCodec.Decode(encoding, payload, destination.Span);
            }
            catch (ShardException e)
            {
                throw new ShardException(ShardErrorKind.Unavailable, $"{_address} sent a malformed compressed pull: {e.Message}");
            }
        }

        PullResult Result() => FrameAnswers.PullResultOf(reply, destination.Length, encoding);
    }

    /// <summary>
    /// The payload of a reply the server left in the shared region, after the checks a stream's payload gets: an attached
    /// region, a length its area holds, the header's checksum (Unavailable otherwise). Read it before the next request.
    /// </summary>
    private ReadOnlySpan<byte> InRegion(in FrameHeader reply)
    {
        if (_region is null || reply.HasTrailer || FrameHeader.Size + reply.Length > _region.AreaBytes)
            throw new ShardException(ShardErrorKind.Unavailable,
                $"{_address} sent a {reply.Kind} of {reply.Length} bytes in shared memory, which this connection {(_region is null ? "has not attached" : "cannot hold there")}");
        BeginPayload(reply);
        return _region.Inbound.Span.Slice(FrameHeader.Size, reply.Length);
    }

    /// <summary>
    /// Runs one exchange under a deadline of <paramref name="timeout"/>, mapping its failures to the domain: the deadline
    /// to <see cref="ShardErrorKind.Timeout"/>, a lost or corrupted stream to <see cref="ShardErrorKind.Unavailable"/>,
    /// cancellation to <see cref="OperationCanceledException"/>; any of these breaks the connection.
    /// </summary>
    private async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> exchange, TimeSpan timeout, CancellationToken ct)
    {
        if (!_deadline.TryReset())
        {
            // The deadline or the caller's token fired just as the last exchange ended: the source cannot be reset, so
            // this connection is done; Unavailable sends the retry to a fresh one (seen under load in PieceLoopbackTests).
            Broken = true;
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address}: the data-plane connection's deadline fired after its last exchange; reconnecting");
        }
        using var caller = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _deadline);
        _deadline.CancelAfter(timeout);
        try
        {
            var result = await exchange(_deadline.Token).ConfigureAwait(false);
            // Disarm the timer now, so that it cannot fire between this exchange and the next one's reset.
            _deadline.CancelAfter(Timeout.InfiniteTimeSpan);
            return result;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            Broken = true;
            ct.ThrowIfCancellationRequested();
            if (_deadline.IsCancellationRequested)
                throw new ShardException(ShardErrorKind.Timeout, $"deadline passed: {_address} did not answer within {timeout.TotalMilliseconds:F0} ms", e);
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address}: data-plane connection lost: {e.Message}", e);
        }
        catch (ShardException e) when (e.Kind is not (ShardErrorKind.Timeout or ShardErrorKind.UnknownWorker))
        {
            // The server closes a connection after refusing a frame; a retry of anything transient goes on a fresh one.
            Broken = true;
            throw;
        }
    }

    /// <summary>
    /// Writes a frame whose payload is <paramref name="prefix"/> (a piece's range; usually empty) then
    /// <paramref name="payload"/>: copied behind its header and sent in one write when small (one syscall, one segment: the
    /// 1 KiB push latency is what matters there), else from the tensor's own memory, written and hashed piece by piece with
    /// the checksum in a trailer (<see cref="TrailedPayload"/>).
    /// </summary>
    private async ValueTask WriteFrameAsync(FrameHeader header, ReadOnlyMemory<byte> payload, CancellationToken ct, ReadOnlyMemory<byte> prefix = default)
    {
        header.Length = prefix.Length + payload.Length;
        if (_region is { } region && header.Kind is FrameKind.Push or FrameKind.PushPull && FrameHeader.Size + header.Length <= region.AreaBytes)
        {
            // The payload into the region (the push's one copy), the header over the socket: the doorbell.
            var area = region.Outbound.Span[FrameHeader.Size..];
            prefix.Span.CopyTo(area);
            payload.Span.CopyTo(area[prefix.Length..]);
            header.Flags |= FrameFlags.SharedMemory;
            header.SealHeader(_hash);
            header.WriteTo(_doorbell);
            await _stream.WriteAsync(_doorbell, ct).ConfigureAwait(false);
            return;
        }
        bool trailed = header.Length > TrailedPayload.Threshold;
        int head = FrameHeader.Size + prefix.Length + (trailed ? 0 : payload.Length);
        var frame = ArrayPool<byte>.Shared.Rent(head);
        try
        {
            if (trailed)
            {
                await TrailedPayload.WriteAsync(header, prefix, payload, _hash, frame, bytes => _stream.WriteAsync(bytes, ct), _checksum).ConfigureAwait(false);
                return;
            }
            header.BeginChecksum(_hash);
            _hash.Append(prefix.Span);
            _hash.Append(payload.Span);
            header.Checksum = _hash.GetCurrentHashAsUInt64();
            header.WriteTo(frame);
            prefix.Span.CopyTo(frame.AsSpan(FrameHeader.Size));
            payload.Span.CopyTo(frame.AsSpan(FrameHeader.Size + prefix.Length));
            await _stream.WriteAsync(frame.AsMemory(0, head), ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>The payload prefix that names <paramref name="piece"/> (<see cref="FrameFlags.Piece"/>); empty for none.</summary>
    private static ReadOnlyMemory<byte> PiecePrefix(PieceRange? piece)
    {
        if (piece is not { } range) return ReadOnlyMemory<byte>.Empty;
        var bytes = new byte[FrameAnswers.PieceBytes];
        FrameAnswers.WritePiece(range, bytes);
        return bytes;
    }

    /// <summary>
    /// The reply's header: <paramref name="expected"/>, or an Error frame, which is thrown as the
    /// <see cref="ShardException"/> it carries.
    /// </summary>
    private async ValueTask<FrameHeader> ReadReplyAsync(FrameKind expected, CancellationToken ct)
    {
        var header = await ReadReplyHeaderAsync(expected, ct).ConfigureAwait(false);
        if (header.Kind == FrameKind.Error) throw FrameAnswers.ErrorOf(header, await ReadMessageAsync(header, ct).ConfigureAwait(false), _address);
        return header;
    }

    /// <summary>The reply's header, checked: <paramref name="expected"/> or an Error frame, which is returned unread.</summary>
    private async ValueTask<FrameHeader> ReadReplyHeaderAsync(FrameKind expected, CancellationToken ct)
    {
        await _stream.ReadExactlyAsync(_header, ct).ConfigureAwait(false);
        var header = FrameHeader.Read(_header);
        try
        {
            header.Validate(expected == FrameKind.PullReply ? int.MaxValue : FrameAnswers.MaxMessageBytes);
            header.CheckChecksumFlag(_checksum);
        }
        catch (ShardException e)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address} sent a malformed reply: {e.Message}");
        }
        if (header.Kind != expected && header.Kind != FrameKind.Error)
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address} answered with a {header.Kind} frame where a {expected} was due");
        return header;
    }

    /// <summary>A small frame's payload as text (a reason, an error message), its checksum verified.</summary>
    private async ValueTask<string> ReadMessageAsync(FrameHeader header, CancellationToken ct)
    {
        if (header.Length > FrameAnswers.MaxMessageBytes)
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address} sent a {header.Kind} frame of {header.Length} bytes");
        var bytes = header.Length == 0 ? [] : new byte[header.Length];
        await _stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
        header.BeginChecksum(_hash);
        _hash.Append(bytes);
        Verify(header);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Starts the hash of <paramref name="header"/>'s payload: its whole checksum, or its trailer's once the header's own checks.</summary>
    private void BeginPayload(in FrameHeader header)
    {
        if (!header.SealsHeaderOnly)
        {
            header.BeginChecksum(_hash);
            return;
        }
        try
        {
            header.VerifyHeader(_hash);
        }
        catch (ShardException e)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address}: {e.Message}");
        }
    }

    /// <summary>Checks the hashed payload against the header's checksum, or against the trailer read after it; an unchecked payload has neither.</summary>
    private async ValueTask VerifyPayloadAsync(FrameHeader header, CancellationToken ct)
    {
        if (header.IsUnchecked) return;
        if (!header.HasTrailer)
        {
            Verify(header);
            return;
        }
        await _stream.ReadExactlyAsync(_trailer, ct).ConfigureAwait(false);
        try
        {
            header.VerifyTrailer(_hash, _trailer);
        }
        catch (ShardException e)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address}: {e.Message}");
        }
    }

    private void Verify(in FrameHeader header)
    {
        try
        {
            header.VerifyChecksum(_hash);
        }
        catch (ShardException e)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"{_address}: {e.Message}");
        }
    }

    public void Dispose()
    {
        Broken = true;
        _stream.Dispose();
        _region?.Dispose();
        _deadline.Dispose();
    }
}
