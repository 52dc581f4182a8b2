using System.Buffers;
using System.IO.Hashing;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Protocol.SharedMemory;
using Serilog;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// One data-plane connection on the server: a Hello with the job token first, then one request frame at a time (Push or
/// Pull), each answered before the next is read. Pushed values are read from the socket straight into one pooled buffer
/// that the shard sums from (<see cref="FrameReader"/>); pulled parameters are copied by the shard into one pooled frame
/// that goes out in a single write.
/// </summary>
/// <remarks>
/// <para>Refusals. A frame that is malformed — bad magic, version, kind or checksum, oversized, truncated, for another
/// shard — or a connection without the job token is answered with an Error frame (InvalidRequest, Unauthenticated), logged
/// through <see cref="RefusalLog"/> and the connection is closed: its byte stream can no longer be trusted. Nothing of such
/// a frame reaches the shard. A well-formed request the shard refuses (a gradient of the wrong length, NaN values, an
/// unknown worker) is answered with an Error frame and the connection stays open, as a gRPC call fails alone; a push the
/// mode's rule refuses is a PushReply with its <see cref="PushOutcome"/>, as over gRPC.</para>
/// <para>Deadlines. The Hello must arrive within <see cref="ServerLimits.RequestHeadersTimeout"/>, the next frame within
/// <see cref="ServerLimits.ConnectionIdleTimeout"/>, and once a frame has started its bytes must keep coming: each read
/// and each write must make progress within <see cref="ServerLimits.PushIdleTimeout"/>. A pull waits for its step at most
/// the time the client names in it (else 30 s) and is then answered with a Timeout error.</para>
/// <para>A peer that dies mid-frame is logged as a warning (peer, worker, step, shard); nothing of the frame is applied.</para>
/// <para>TLS. On a server with TLS (<see cref="JobAuth.Tls"/>) the stream is the <see cref="SslStream"/> the listener
/// authenticated (<see cref="DataPlaneTls"/>); a connection handed over as plaintext is refused at its first frame
/// (Unauthenticated), before its token is read.</para>
/// <para>Frame checksum. The Hello asks for one (<see cref="FrameChecksum"/>), the server's policy
/// (<see cref="ServerLimits.FrameChecksum"/>) decides, the Welcome says what was agreed
/// (<see cref="FrameChecksums.Agree"/>): a client asking for less than the policy is refused. From then on every frame's
/// checksum flag must agree with it (<see cref="FrameHeader.CheckChecksumFlag"/>), else it is refused and the connection
/// closed; under <c>none</c> large payloads go both ways without a trailer and neither side hashes them.</para>
/// </remarks>
internal sealed class TensorConnection : IAsyncDisposable
{
    private const int MaxHelloBytes = 1024;
    private const int RearmBytes = 1 << 20;
    // A refused push's sender is still writing it when the refusal goes out; 64 MiB in 1 s lets a whole shard arrive on loopback.
    private const long LingerBytes = 64L << 20;
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultPullWait = TimeSpan.FromSeconds(30);

    private readonly IParameterShard _shard;
    private readonly JobAuth _auth;
    private readonly RefusalLog _refusals;
    private readonly ServerLimits _limits;
    private readonly PushMemoryBudget _budget;
    private readonly BytesAsFloats _pushed = new();
    private readonly ILogger _log;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly FrameReader _input;
    // An answer, after a held push reply (HeldPushReply) when there is one: both go out in one write.
    private readonly byte[] _answer = new byte[HeldPushReply.MaxBytes + FrameHeader.Size + FrameAnswers.MaxMessageBytes];
    private SharedRegion? _region;   // offered to the client; payloads go through it once attached
    private bool _attached;
    // A piece pull's range, read once per pulled piece: one buffer per connection (frames are served one at a time).
    private readonly byte[] _pieceRange = new byte[FrameAnswers.PieceBytes];
    private readonly byte[] _trailer = new byte[FrameHeader.TrailerBytes];
    private readonly string _peer;
    private readonly CancellationToken _closed;
    private readonly CancellationTokenSource _deadline;   // re-armed for every read and write
    private CancellationTokenSource _wait;                // a pull's wait for its step; replaced once it fired
    private Task? _pendingWatch;                          // a pull's watch for a closing peer, still reading when the step came
    private readonly XxHash3 _hash = new();
    private readonly int _shardBytes;
    private readonly ParkedPulls? _parked;
    private HeldPushReply? _held;   // an applied fused push's answer, sent with its pull's
    private readonly FrameChecksum _policy;                          // the least this server checks (--frame-checksum)
    private FrameChecksum _checksum = FrameChecksum.Xxh3;            // agreed in the handshake; every frame before it is checked

    /// <summary>A connection of <see cref="DataPlaneListener"/>, with its shard, token, limits, push budget and log (see there).</summary>
    /// <param name="shard">The shard it serves.</param>
    /// <param name="auth">The job token its Hello must carry.</param>
    /// <param name="refusals">Where refusals are logged.</param>
    /// <param name="limits">Its deadlines.</param>
    /// <param name="budget">The in-flight push memory.</param>
    /// <param name="log">Its events' log.</param>
    /// <param name="socket">The accepted socket; the connection owns it and closes it when disposed.</param>
    /// <param name="stream">The socket's byte stream, which the connection reads and writes; closed with the socket.</param>
    /// <param name="closed">Cancelled when the server stops: a push or pull waiting for its slot or step gives up.</param>
    /// <param name="parked">The plane's pulls waiting for a step, which a push that closes one answers (null: each answers its own).</param>
    public TensorConnection(IParameterShard shard, JobAuth auth, RefusalLog refusals, ServerLimits limits, PushMemoryBudget budget, ILogger log,
        Socket socket, Stream stream, CancellationToken closed, ParkedPulls? parked = null)
    {
        _parked = parked;
        (_shard, _auth, _refusals, _limits, _budget) = (shard, auth, refusals, limits, budget);
        _peer = socket.RemoteEndPoint?.ToString() ?? "unknown peer";
        _log = log.ForContext("Peer", _peer);
        (_socket, _stream) = (socket, stream);
        _input = new FrameReader(stream);
        _closed = closed;
        // Not linked to the server's stop: a stopping server closes the socket, and a read in flight then ends with the bytes it had.
        _deadline = new CancellationTokenSource();
        _wait = CancellationTokenSource.CreateLinkedTokenSource(_closed);
        _shardBytes = checked((int)shard.Info.Length * sizeof(float));
        _policy = FrameChecksums.Policy(limits.FrameChecksum, auth.Tls is not null);
    }

    /// <summary>Serves frames until the peer closes the connection or a frame is refused; never throws.</summary>
    public async Task RunAsync()
    {
        FrameHeader current = default;
        try
        {
            if (await ReadHeaderAsync(_limits.RequestHeadersTimeout).ConfigureAwait(false) is not { } hello) return;
            current = hello;
            await HandshakeAsync(hello).ConfigureAwait(false);
            current = default;
            while (await ReadHeaderAsync(_limits.ConnectionIdleTimeout).ConfigureAwait(false) is { } header)
            {
                current = header;
                header.Validate(int.MaxValue);
                header.CheckChecksumFlag(_checksum);   // before anything of it is read or waited for
                switch (header.Kind)
                {
                    case FrameKind.Push or FrameKind.PushPull: await PushAsync(header).ConfigureAwait(false); break;
                    case FrameKind.Pull:
                        current = default;   // a pull has no payload: once its header is in, nothing is mid-frame
                        await PullAsync(header).ConfigureAwait(false);
                        break;
                    case FrameKind.SharedMemory: await SharedMemoryAsync(header).ConfigureAwait(false); break;
                    default:
                        header.Validate(0);
                        throw ShardException.Invalid($"{header.Kind} frames go from server to client; a client sends Push, Pull, PushPull or SharedMemory");
                }
                current = default;
            }
        }
        catch (ShardException e) when (e.Kind is ShardErrorKind.InvalidRequest or ShardErrorKind.Unauthenticated)
        {
            _refusals.Refused("data plane", _peer, e.Message);
            await TryAnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionLoss(e))
        {
            if (current.Kind == 0) return;   // closed between frames: routine
            var reason = e is OperationCanceledException
                ? $"it sent or read nothing for {_limits.PushIdleTimeout.TotalMilliseconds:F0} ms mid-frame"
                : e.Message;
            _log.Warning("Data-plane peer {Peer} of shard {Shard} (worker {WorkerId}, step {Step}) was lost mid-frame: {Reason}; the {Kind} was not applied; the connection is closed",
                _peer, _shard.Info.Index, current.Worker, current.Step, reason, current.Kind);
        }
    }

    /// <summary>Checks the Hello: the job token, the shard the client expects; answers Welcome.</summary>
    private async ValueTask HandshakeAsync(FrameHeader hello)
    {
        // No downgrade: a TLS server's connection reads nothing of a plaintext client, not even its token, and says why.
        if (_auth.Tls is not null && _stream is not SslStream)
            throw new ShardException(ShardErrorKind.Unauthenticated,
                $"shard {_shard.Info.Index}'s data plane takes TLS connections only (its server is on an https:// address) and this one sent plaintext; " +
                "reach the server through its https:// address with TLS credentials (--tls-ca)");
        hello.Validate(int.MaxValue);
        hello.CheckChecksumFlag(_checksum);
        if (hello.Kind != FrameKind.Hello)
            throw new ShardException(ShardErrorKind.Unauthenticated, $"the first frame of a data-plane connection must be Hello with the job token, not {hello.Kind}");
        hello.Validate(MaxHelloBytes);
        var token = new byte[hello.Length];
        await ReadPayloadAsync(hello, token).ConfigureAwait(false);
        if (_auth.Token is { } expected && !expected.Matches(Encoding.UTF8.GetString(token)))
            throw new ShardException(ShardErrorKind.Unauthenticated, "the connection carries no valid job token");
        if (hello.Shard != _shard.Info.Index)
            throw ShardException.Invalid($"this server owns shard {_shard.Info.Index}; the client expects shard {hello.Shard}");
        var agreed = FrameChecksums.Agree(hello.Part, _policy, _shard.Info.Index);
        var welcome = FrameHeader.Of(FrameKind.Welcome);
        (welcome.Shard, welcome.Count, welcome.Part) = (_shard.Info.Index, _shard.Info.Length, (int)agreed);
        await AnswerAsync(welcome, "").ConfigureAwait(false);
        _checksum = agreed;
        _log.Debug("Data-plane peer {Peer} of shard {Shard} agreed to frame checksum {FrameChecksum} (asked {Asked}, policy {Policy})",
            _peer, _shard.Info.Index, FrameChecksums.Name(agreed), hello.Part == 0 ? "the server's" : FrameChecksums.Name((FrameChecksum)hello.Part), FrameChecksums.Name(_policy));
    }

    /// <summary>
    /// Reads a push's values into a pooled buffer, checks the checksum, and hands them to the shard; answers its outcome.
    /// bfloat16 values are widened into a second pooled buffer. The buffers are reserved from the in-flight push memory
    /// budget first; a push that does not fit is read past (the stream stays in step) and answered busy (Unavailable,
    /// which workers retry), as over gRPC.
    /// A PushPull frame's payload starts with its <see cref="PushPullRequest"/>, checked before anything is applied; once
    /// its push was applied the pull follows on this task (<see cref="SendParametersAsync"/>): no hop to another thread.
    /// A refused push (late, duplicate, finished) is answered with its PushReply alone: the worker pulls separately.
    /// </summary>
    private async ValueTask PushAsync(FrameHeader header)
    {
        if (header.SealsHeaderOnly) header.VerifyHeader(_hash);   // its fields decide the budget and the slot wait below
        var encoding = FrameAnswers.EncodingOf(header);
        bool compressed = TensorCodec.IsCompressed(encoding);
        int prefix = header.Kind == FrameKind.PushPull ? PushPullRequest.Bytes : 0;
        bool piece = header.Flags.HasFlag(FrameFlags.Piece);
        if (prefix > 0 && piece)
            throw ShardException.Invalid("a PushPull frame carries a whole shard's values, not a piece (pieces are pushed and pulled separately)");
        int start = piece ? FrameAnswers.PieceBytes : prefix;   // a piece's values follow its range, a PushPull's its pull request
        // A sparse push carries an index beside each value: up to twice a dense push.
        header.Validate(start + (encoding == TensorEncoding.Sparse ? 2 * _shardBytes : _shardBytes));
        if (piece && compressed)
            throw ShardException.Invalid($"a piece carries float32 or bfloat16 values, not {encoding}");
        if (header.Length < start)
            throw ShardException.Invalid(piece
                ? $"push of {header.Length} bytes is shorter than a piece's range"
                : $"PushPull frame of {header.Length} payload bytes is shorter than its {prefix}-byte pull request");
        int length = header.Length - start;   // the values' bytes
        int valueBytes = encoding == TensorEncoding.BFloat16 ? sizeof(ushort) : sizeof(float);
        if (!compressed && length % valueBytes != 0)
            throw ShardException.Invalid($"push of {header.Length} bytes is not {(piece ? "a piece's range and " : "")}a whole number of {valueBytes}-byte values");
        // bfloat16 and compressed values are widened into a second buffer: twice the bfloat16 bytes, a shard's float32s.
        long reservation = header.Length + (encoding == TensorEncoding.BFloat16 ? 2L * length : compressed ? _shardBytes : 0);
        if (!_budget.TryReserve(reservation))
        {
            await SkipPayloadAsync(header.InSharedMemory ? 0 : header.Length + (header.HasTrailer ? FrameHeader.TrailerBytes : 0)).ConfigureAwait(false);
            var reason = $"server busy: pushes in flight hold {_budget.InUse >> 20} MiB of the {_budget.Capacity >> 20} MiB budget " +
                $"(--max-inflight-push-mb) and this one needs {(reservation >> 20) + 1} MiB; retry later";
            _refusals.Refused("data plane push", _peer, reason);
            await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.Unavailable, _shard.Info.Index), reason).ConfigureAwait(false);
            return;
        }
        // A push before its round-robin slot is held until the slot opens, its bytes left in the socket (the sender waits).
        var lease = await _shard.WaitForSlotAsync(FrameAnswers.PushOf(header), _closed).ConfigureAwait(false);
        bool nextPiece = false;   // the shard holds the turn for this push's next piece
        byte[]? bytes = ArrayPool<byte>.Shared.Rent(header.Length);
        float[]? widened = null;
        try
        {
            await ReadPayloadAsync(header, bytes.AsMemory(0, header.Length)).ConfigureAwait(false);
            lease.Arrived();
            var push = FrameAnswers.PushOf(header);
            if (push.Shard != _shard.Info.Index)
                throw ShardException.Invalid($"push for shard {push.Shard} sent to shard {_shard.Info.Index}");
            PushPullRequest? pull = prefix > 0 ? PushPullRequest.Read(bytes.AsSpan(0, prefix)) : null;
            if (piece) push = push with { Piece = FrameAnswers.PieceOf(bytes.AsSpan(0, header.Length), (int)_shard.Info.Length) };
            var values = bytes.AsSpan(start, length);
            int count = compressed ? _shardBytes / sizeof(float) : length / valueBytes;
            if (encoding == TensorEncoding.BFloat16)
            {
                widened = ArrayPool<float>.Shared.Rent(count);
                BFloat16.Decode(new ReadOnlySequence<byte>(bytes, start, length), widened.AsSpan(0, count));
            }
            PushOutcome outcome;
            try
            {
                if (compressed)
                {
                    widened = ArrayPool<float>.Shared.Rent(count);
                    Decode(push, encoding, values, widened.AsSpan(0, count));
                }
                // Asynchronously: a node aggregator answers once its node's sum went upstream (a shard answers at once).
                outcome = await _shard.PushAsync(push, widened is null ? _pushed.View(bytes, start, count) : widened.AsMemory(0, count), _closed).ConfigureAwait(false);
                nextPiece = outcome.IsApplied && piece && _shard.ClosingRanges is null;
                // The pulls that waited for the step this push closed are answered first, from this thread.
                if (outcome.ClosedStep) _parked?.AnswerReady();
            }
            catch (ShardException e)
            {
                await AnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
                return;
            }
            if (pull is { } fused && outcome.IsApplied)
            {
                // The push's buffers go back before the pull waits for its step: other connections' pushes need the budget.
                // Its answer goes out with the pull's, in one write.
                Release(ref bytes, ref widened, ref reservation);
                _held = HeldPushReply.Of(outcome, _shard.Info.Index);
                await SendParametersAsync(push.WorkerId, fused.MinStep, TimeSpan.FromMilliseconds(fused.WaitMilliseconds), 0).ConfigureAwait(false);
                return;
            }
            await AnswerAsync(FrameAnswers.PushReplyFrame(outcome, _shard.Info.Index), outcome.Reason).ConfigureAwait(false);
        }
        finally
        {
            lease.End(nextPiece);   // a failed read, a wrong shard, a refused or undecodable push frees its turn now
            Release(ref bytes, ref widened, ref reservation);
            _held = null;   // a pull given up (its peer left, the server stops) answers nothing
        }
    }

    /// <summary>Returns a push's pooled buffers and its budget reservation, once.</summary>
    private void Release(ref byte[]? bytes, ref float[]? widened, ref long reservation)
    {
        if (bytes is not null) ArrayPool<byte>.Shared.Return(bytes);
        if (widened is not null) ArrayPool<float>.Shared.Return(widened);
        _budget.Release(reservation);
        (bytes, widened, reservation) = (null, null, 0);
    }

    /// <summary>
    /// Decodes a compressed push (a whole shard's values); bytes that are no valid encoding are logged and refused
    /// (InvalidRequest) before the shard sees anything. The connection stays open: the frame was read whole and its
    /// checksum holds, so the stream is still in step.
    /// </summary>
    private void Decode(in PushHeader push, TensorEncoding encoding, ReadOnlySpan<byte> bytes, Span<float> values)
    {
        try
        {
            TensorCodec.Decode(encoding, bytes, values);
        }
        catch (ShardException e)
        {
            var reason = $"{encoding} push of worker {push.WorkerId} for step {push.Step}: {e.Message}; nothing of it is applied";
            _refusals.Refused("data plane push", _peer, reason);
            throw ShardException.Invalid(reason);
        }
    }

    /// <summary>Checks a Pull frame, then answers it (<see cref="SendParametersAsync"/>).</summary>
    private async ValueTask PullAsync(FrameHeader header)
    {
        PieceRange? piece = null;
        if (header.Flags.HasFlag(FrameFlags.Piece))
        {
            header.Validate(FrameAnswers.PieceBytes);
            var range = _pieceRange.AsMemory(0, header.Length);
            await ReadPayloadAsync(header, range).ConfigureAwait(false);
            piece = FrameAnswers.PieceOf(range.Span, (int)_shard.Info.Length);
        }
        else
        {
            header.Validate(0);
            Verify(header, []);
        }
        if (header.Worker < -1 || header.Count < 0)
        {
            var wrong = header.Worker < -1 ? $"worker_id {header.Worker} is not a worker id (or -1 for observers)" : $"min_step {header.Count} is negative";
            await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.InvalidRequest, _shard.Info.Index), wrong).ConfigureAwait(false);
            return;
        }
        await SendParametersAsync(header.Worker, header.Count, header.Part > 0 ? TimeSpan.FromMilliseconds(header.Part) : DefaultPullWait, header.Step, piece).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for step <paramref name="minStep"/> (at most <paramref name="wait"/>, then a Timeout error), then writes the
    /// parameters (or the delta to copy <paramref name="viewVersion"/>, or the <paramref name="piece"/> asked) as a
    /// PullReply; the pull of a Pull or a PushPull frame.
    /// </summary>
    private async ValueTask SendParametersAsync(int worker, long minStep, TimeSpan wait, long viewVersion, PieceRange? piece = null)
    {
        _wait.CancelAfter(wait);
        var peerLeft = false;
        ParkedPulls.Parked? parked = null;
        Exception? failed = null;
        try
        {
            var step = piece is { } range ? _shard.WaitForPieceAsync(worker, minStep, range, _wait.Token) : _shard.WaitForStepAsync(worker, minStep, _wait.Token);
            if (!step.IsCompleted)
            {
                // A whole pull of a worker may be answered by the push that closes its step (ParkedPulls).
                if (piece is null && worker >= 0) parked = _parked?.Park(_stream, minStep, _held);
                if (await PeerLeavesBeforeAsync(step).ConfigureAwait(false))
                {
                    peerLeft = true;
                    _wait.Cancel();
                }
            }
            await step.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ShardException)
        {
            failed = e;
        }
        finally
        {
            if (!_wait.TryReset())
            {
                _wait.Dispose();
                _wait = CancellationTokenSource.CreateLinkedTokenSource(_closed);
            }
        }
        if (parked is not null && await _parked!.AnsweredAsync(parked).ConfigureAwait(false))
        {
            _held = null;   // the closing push wrote it with the parameters
            return;
        }
        switch (failed)
        {
            case OperationCanceledException when peerLeft || _closed.IsCancellationRequested:
                return;   // the client closed the connection while its pull waited (it gave the pull up), or the server stops: routine
            case OperationCanceledException:
                await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.Timeout, _shard.Info.Index),
                    $"shard {_shard.Info.Index} did not reach step {minStep} within {wait.TotalMilliseconds:F0} ms").ConfigureAwait(false);
                return;
            case ShardException e:
                await AnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
                return;
        }
        if (peerLeft) return;
        try
        {
            await WriteParametersAsync(worker, viewVersion, piece).ConfigureAwait(false);
        }
        finally
        {
            _shard.PullSent(worker);   // a round-robin coordinator starts the next worker's pull
        }
    }

    /// <summary>Writes the parameters (or the delta to copy <paramref name="viewVersion"/>, or the <paramref name="piece"/> asked) as a PullReply.</summary>
    private async ValueTask WriteParametersAsync(int worker, long viewVersion, PieceRange? piece)
    {
        if (piece is { } asked)
        {
            await WritePieceAsync(asked).ConfigureAwait(false);
            return;
        }
        // Over shared memory the shard copies its parameters straight into the region: the pull's one copy.
        var frame = _attached ? null : ArrayPool<byte>.Shared.Rent(FrameHeader.Size + _shardBytes);
        var target = frame ?? _region!.Outbound;
        byte[]? deltaFrame = null;
        try
        {
            if (WriteParameters(target.Span[..(FrameHeader.Size + _shardBytes)], worker, viewVersion, out var header, out deltaFrame) is { } refused)
            {
                await AnswerAsync(FrameAnswers.ErrorFrame(refused.Kind, _shard.Info.Index), refused.Message).ConfigureAwait(false);
                return;
            }
            await SendAsync(header, deltaFrame ?? target).ConfigureAwait(false);
        }
        finally
        {
            if (frame is not null) ArrayPool<byte>.Shared.Return(frame);
            if (deltaFrame is not null) ArrayPool<byte>.Shared.Return(deltaFrame);
        }
    }

    /// <summary>
    /// While <paramref name="step"/> is pending nothing else reads the connection, so this watches it: true when the client
    /// closed it first (it gave its pull up). A watch still pending when the step comes is left to the next header read.
    /// </summary>
    private async Task<bool> PeerLeavesBeforeAsync(Task step)
    {
        var watch = _input.WaitForDataOrCloseAsync(_deadline.Token);
        if (await Task.WhenAny(step, watch).ConfigureAwait(false) != watch)
        {
            _pendingWatch = watch;
            return false;
        }
        try { return await watch.ConfigureAwait(false); }
        catch (Exception e) when (IsConnectionLoss(e)) { return true; }
    }


    /// <summary>A PullReply with one piece of the shard's parameters (always float32: a piece is a range, not a delta).</summary>
    private async ValueTask WritePieceAsync(PieceRange piece)
    {
        int length = FrameHeader.Size + piece.Length * sizeof(float);
        var frame = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var payload = frame.AsMemory(FrameHeader.Size, length - FrameHeader.Size);
            PullResult pulled;
            try { pulled = _shard.CopyParameters(piece.Offset, MemoryMarshal.Cast<byte, float>(payload.Span)); }
            catch (ShardException e)
            {
                await AnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
                return;
            }
            await SendAsync(FrameAnswers.PullReplyFrame(pulled, payload.Length), frame).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>
    /// A PullReply with the shard's parameters, copied into <paramref name="frame"/> after its header, and its
    /// <paramref name="header"/> (to send with <see cref="SendAsync"/>). With compressed pulls (<paramref name="viewVersion"/> names the worker's copy; a Pull frame's <c>Step</c>) it
    /// may be the delta to that copy instead: then encoded, flagged sparse or sign, the copy's new version in
    /// <c>Part</c>, into <paramref name="deltaFrame"/> (pooled; the caller returns it) after the room for its header.
    /// </summary>
    private ShardException? WriteParameters(Span<byte> frame, int workerId, long viewVersion, out FrameHeader header, out byte[]? deltaFrame)
    {
        (header, deltaFrame) = (default, null);
        var payload = frame[FrameHeader.Size..];
        PullResult pulled;
        try { pulled = _shard.CopyForPull(workerId, viewVersion, MemoryMarshal.Cast<byte, float>(payload)); }
        catch (ShardException e) { return e; }
        header = FrameAnswers.PullReplyFrame(pulled, _shardBytes);
        header.Part = checked((int)pulled.ViewVersion);
        if (TensorCodec.IsCompressed(pulled.Encoding))
            deltaFrame = DeltaFrame(ref header, pulled.Encoding, MemoryMarshal.Cast<byte, float>(payload));
        return null;
    }

    /// <summary>
    /// Sends a frame whose payload (<paramref name="header"/>'s length) lies in <paramref name="frame"/> after the room for
    /// its header. With a shared region attached, the payload is left in the region (copied there unless
    /// <paramref name="frame"/> is the region already) and only the header goes out; else, sealed and in one write when
    /// small, or written and hashed piece by piece with the checksum in a trailer (<see cref="TrailedPayload"/>), the
    /// frame's header room serving as scratch. A payload larger than the region's area goes over the stream.
    /// </summary>
    private async ValueTask SendAsync(FrameHeader header, Memory<byte> frame)
    {
        var payload = frame.Slice(FrameHeader.Size, header.Length);
        if (_attached && FrameHeader.Size + header.Length <= _region!.AreaBytes)
        {
            var area = _region.Outbound;
            if (!area.Span.Overlaps(payload.Span)) payload.Span.CopyTo(area.Span[FrameHeader.Size..]);
            header.Flags |= FrameFlags.SharedMemory;
            header.SealHeader(_hash);
            int at = TakeHeld(_answer);
            header.WriteTo(_answer.AsSpan(at));
            await WriteAsync(_answer.AsMemory(0, at + FrameHeader.Size)).ConfigureAwait(false);
            return;
        }
        if (header.Length > TrailedPayload.Threshold)
        {
            await WriteHeldAsync().ConfigureAwait(false);
            await TrailedPayload.WriteAsync(header, ReadOnlyMemory<byte>.Empty, payload, _hash, frame[..FrameHeader.Size], WriteAsync, _checksum).ConfigureAwait(false);
            return;
        }
        header.Seal(_hash, payload.Span);
        header.WriteTo(frame.Span);
        var whole = frame[..(FrameHeader.Size + header.Length)];
        // A held push reply and a small reply go out in one write (one wake-up of the worker per fused step).
        if (_held is not null && whole.Length <= _answer.Length - HeldPushReply.MaxBytes)
        {
            int at = TakeHeld(_answer);
            whole.Span.CopyTo(_answer.AsSpan(at));
            await WriteAsync(_answer.AsMemory(0, at + whole.Length)).ConfigureAwait(false);
            return;
        }
        await WriteHeldAsync().ConfigureAwait(false);
        await WriteAsync(whole).ConfigureAwait(false);
    }

    /// <summary>Writes the held push reply on its own, if there is one (before a reply too large to share its write).</summary>
    private ValueTask WriteHeldAsync()
    {
        int held = TakeHeld(_answer);
        return held == 0 ? ValueTask.CompletedTask : WriteAsync(_answer.AsMemory(0, held));
    }

    /// <summary>
    /// One step of the shared-memory handshake (<see cref="FrameKind.SharedMemory"/>): an Offer is answered with a new
    /// region's path (or, where this host has none to give, an Unavailable error, the connection staying open), an Attach
    /// whose nonce matches the region's attaches it and unlinks its file, a Decline drops it. Anything else, or a nonce that
    /// does not match, is a malformed frame: the connection closes and the region with it.
    /// </summary>
    private async ValueTask SharedMemoryAsync(FrameHeader header)
    {
        header.Validate(SharedRegion.NonceBytes);
        var nonce = new byte[header.Length];
        await ReadPayloadAsync(header, nonce).ConfigureAwait(false);
        switch ((SharedMemoryStage)header.Part)
        {
            case SharedMemoryStage.Offer when _region is null:
                try
                {
                    // Pushes up to a whole float32 shard and its prefix; larger (sparse) payloads go over the stream.
                    _region = SharedRegion.Available ? SharedRegion.Create(_shard.Info.Index, PushPullRequest.Bytes + _shardBytes) : null;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _log.Warning("Shard {Shard} could not create a shared-memory region for {Peer}: {Reason}; it goes on over TCP", _shard.Info.Index, _peer, e.Message);
                }
                if (_region is null)
                {
                    await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.Unavailable, _shard.Info.Index),
                        $"shard {_shard.Info.Index} offers no shared memory on this host").ConfigureAwait(false);
                    return;
                }
                var offer = FrameHeader.Of(FrameKind.SharedMemory);
                (offer.Part, offer.Shard, offer.Count) = ((int)SharedMemoryStage.Region, _shard.Info.Index, _region.AreaBytes);
                await AnswerAsync(offer, _region.Path!).ConfigureAwait(false);
                return;
            case SharedMemoryStage.Attach when _region is not null && !_attached:
                if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(nonce, _region.Nonce))
                    throw ShardException.Invalid("the shared-memory attach carries the wrong nonce: the client did not map this server's region");
                _region.Unlink();
                _attached = true;
                var attached = FrameHeader.Of(FrameKind.SharedMemory);
                (attached.Part, attached.Shard) = ((int)SharedMemoryStage.Attached, _shard.Info.Index);
                await AnswerAsync(attached, "").ConfigureAwait(false);
                _log.Debug("Data-plane peer {Peer} of shard {Shard} attached shared memory ({Area} bytes each way)", _peer, _shard.Info.Index, _region.AreaBytes);
                return;
            case SharedMemoryStage.Decline when _region is not null && !_attached:
                _region.Dispose();
                _region = null;
                return;
            default:
                throw ShardException.Invalid($"shared-memory {(SharedMemoryStage)header.Part} is out of turn (offered: {_region is not null}, attached: {_attached})");
        }
    }

    /// <summary>
    /// A PullReply frame carrying <paramref name="delta"/> encoded after the room for its header, in a pooled buffer the
    /// caller returns; <paramref name="header"/> is flagged and sized for it.
    /// </summary>
    private static byte[] DeltaFrame(ref FrameHeader header, TensorEncoding encoding, ReadOnlySpan<float> delta)
    {
        int bytes = TensorCodec.EncodedBytes(encoding, delta);
        var frame = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + bytes);
        TensorCodec.Encode(encoding, delta, frame.AsSpan(FrameHeader.Size, bytes));
        header.Flags |= FrameAnswers.FlagOf(encoding);
        header.Length = bytes;
        return frame;
    }

    /// <summary>
    /// Writes a frame whose payload is <paramref name="message"/> (UTF-8, cut to <see cref="FrameAnswers.MaxMessageBytes"/>)
    /// in one write, after the held push reply if there is one.
    /// </summary>
    private ValueTask AnswerAsync(FrameHeader header, string message)
    {
        int at = TakeHeld(_answer);
        var payload = _answer.AsSpan(at + FrameHeader.Size);
        header.Length = FrameAnswers.WriteMessage(message, payload);
        header.Seal(_hash, payload[..header.Length]);
        header.WriteTo(_answer.AsSpan(at));
        return WriteAsync(_answer.AsMemory(0, at + FrameHeader.Size + header.Length));
    }

    /// <summary>Writes the held push reply, if any, at the start of <paramref name="destination"/> and lets it go; returns its bytes.</summary>
    private int TakeHeld(Span<byte> destination)
    {
        if (_held is not { } held) return 0;
        _held = null;
        return held.WriteTo(destination, _hash);
    }

    /// <summary>A last answer before the connection closes; a peer that is gone already does not get it.</summary>
    private async ValueTask TryAnswerAsync(FrameHeader header, string message)
    {
        try { await AnswerAsync(header, message).ConfigureAwait(false); }
        catch (Exception e) when (IsConnectionLoss(e)) { }
    }

    /// <summary>A failure that means the connection is gone or timed out, not a bug.</summary>
    private static bool IsConnectionLoss(Exception e) => e is IOException or OperationCanceledException or ObjectDisposedException or SocketException;

    /// <summary>Writes <paramref name="frame"/>; the peer must take it within <see cref="ServerLimits.PushIdleTimeout"/>.</summary>
    private async ValueTask WriteAsync(ReadOnlyMemory<byte> frame)
    {
        _deadline.CancelAfter(_limits.PushIdleTimeout);
        await _stream.WriteAsync(frame, _deadline.Token).ConfigureAwait(false);
        Disarm();
    }

    /// <summary>The next frame's header, within <paramref name="limit"/>; null when the peer closed between frames.</summary>
    private async ValueTask<FrameHeader?> ReadHeaderAsync(TimeSpan limit)
    {
        _deadline.CancelAfter(limit);
        if (_pendingWatch is { } watch)
        {
            _pendingWatch = null;
            await watch.ConfigureAwait(false);
        }
        var header = await _input.ReadHeaderAsync(_deadline.Token).ConfigureAwait(false);
        Disarm();
        return header;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the payload of <paramref name="header"/>'s frame and verifies its checksum;
    /// every read must make progress within the frame deadline. Each read's bytes are hashed as they arrive, while still in
    /// cache, rather than in a second pass over the whole payload; a payload flagged unchecked (the connection agreed to
    /// <c>--frame-checksum none</c>) is not hashed at all, its header's own checksum still verified first.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest: the checksum does not match.</exception>
    private async ValueTask ReadPayloadAsync(FrameHeader header, Memory<byte> destination)
    {
        if (header.InSharedMemory)
        {
            CopyFromRegion(header, destination.Span);
            return;
        }
        if (header.SealsHeaderOnly) header.VerifyHeader(_hash);
        else header.BeginChecksum(_hash);
        bool hashed = !header.IsUnchecked;   // the connection agreed to --frame-checksum none (checked at its header)
        // Re-arming the timer costs a little; a read brings up to the socket's window (hundreds of KiB), so once per
        // RearmBytes of progress is enough to bound a stall by the deadline.
        int filled = 0, armedAt = -RearmBytes;
        while (filled < destination.Length)
        {
            if (filled - armedAt >= RearmBytes) (armedAt, _) = (filled, Arm());
            var read = await _input.ReadSomeAsync(destination[filled..], _deadline.Token).ConfigureAwait(false);
            if (read == 0)
                throw new IOException($"the peer closed the connection after {filled} of the frame's {destination.Length} payload bytes (a truncated frame)");
            if (hashed) _hash.Append(destination.Span.Slice(filled, read));
            filled += read;
        }
        if (!hashed)
        {
            Disarm();
            return;
        }
        if (header.HasTrailer)
        {
            Arm();
            for (int got = 0, read; got < FrameHeader.TrailerBytes; got += read)
                if ((read = await _input.ReadSomeAsync(_trailer.AsMemory(got), _deadline.Token).ConfigureAwait(false)) == 0)
                    throw new IOException($"the peer closed the connection before the frame's checksum trailer (a truncated frame)");
            Disarm();
            header.VerifyTrailer(_hash, _trailer);
            return;
        }
        Disarm();
        header.VerifyChecksum(_hash);
    }

    /// <summary>
    /// A payload the client left in the shared region, checked (an attached region, a length its area holds, the header's
    /// checksum) and copied out before anything reads it: the client can write the region at any time, so the shard
    /// validates and sums a snapshot, never memory it shares.
    /// </summary>
    private void CopyFromRegion(in FrameHeader header, Span<byte> destination)
    {
        if (header.HasTrailer) throw ShardException.Invalid($"{header.Kind} frame flags both a trailer and shared memory");
        if (!_attached) throw ShardException.Invalid($"{header.Kind} frame says its payload is in shared memory, but this connection has no region attached");
        if (FrameHeader.Size + header.Length > _region!.AreaBytes)
            throw ShardException.Invalid($"{header.Kind} frame of {header.Length} bytes does not fit the shared region's {_region.AreaBytes - FrameHeader.Size}");
        header.VerifyHeader(_hash);
        _region.Inbound.Span.Slice(FrameHeader.Size, header.Length).CopyTo(destination);
    }

    /// <summary>Reads past <paramref name="length"/> payload bytes without keeping them, under the same deadlines.</summary>
    private async ValueTask SkipPayloadAsync(int length)
    {
        var skipped = 0;
        while (skipped < length)
        {
            _deadline.CancelAfter(_limits.PushIdleTimeout);
            var read = await _input.SkipSomeAsync(length - skipped, _deadline.Token).ConfigureAwait(false);
            if (read == 0)
                throw new IOException($"the peer closed the connection after {skipped} of the frame's {length} payload bytes (a truncated frame)");
            skipped += read;
        }
        Disarm();
    }

    private bool Arm()
    {
        _deadline.CancelAfter(_limits.PushIdleTimeout);
        return true;
    }

    private void Disarm()
    {
        if (!_deadline.TryReset()) _deadline.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Throws InvalidRequest unless the checksum of <paramref name="header"/> and <paramref name="payload"/> matches.</summary>
    private void Verify(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        header.BeginChecksum(_hash);
        _hash.Append(payload);
        header.VerifyChecksum(_hash);
    }

    /// <summary>
    /// Closes the connection gracefully: sends end-of-stream, then reads past what the peer still sends (at most
    /// <see cref="LingerBytes"/> for <see cref="LingerTime"/>) until it closes too, so that it reads a refusal before the
    /// close (closing a socket with unread bytes would reset it and lose the answer). TLS's close_notify goes first, within
    /// the same <see cref="LingerTime"/>: a peer that stops reading cannot hold the connection (and its
    /// <c>--max-connections</c> slot) with a full send buffer. Then closes the socket (a watch still reading it ends with
    /// it) and releases the timers.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_pendingWatch is null && !_closed.IsCancellationRequested)
        {
            using var linger = new CancellationTokenSource(LingerTime);
            try
            {
                // close_notify: the end is not a truncation. WaitAsync abandons a write the peer does not take; closing the socket below ends it.
                if (_stream is SslStream ssl) await ssl.ShutdownAsync().WaitAsync(linger.Token).ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Send);
                for (long drained = 0; drained < LingerBytes;)
                {
                    var read = await _input.SkipSomeAsync(int.MaxValue, linger.Token).ConfigureAwait(false);
                    if (read == 0) break;
                    drained += read;
                }
            }
            catch (Exception e) when (IsConnectionLoss(e)) { }
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _region?.Dispose();
        if (_pendingWatch is { } watch)
        {
            try { await watch.ConfigureAwait(false); }
            catch (Exception e) when (IsConnectionLoss(e)) { }
        }
        _deadline.Dispose();
        _wait.Dispose();
    }
}
