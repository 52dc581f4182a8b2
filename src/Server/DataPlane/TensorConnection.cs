using System.Buffers;
using System.IO.Hashing;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using Microsoft.AspNetCore.Connections;
using Serilog;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// One data-plane connection on the server: a Hello with the job token first, then one request frame at a time (Push or
/// Pull), each answered before the next is read. Pushed values are read from the socket's pipe straight into one pooled
/// buffer that the shard sums from; pulled parameters are copied by the shard straight into the pipe's output buffer.
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
/// </remarks>
internal sealed class TensorConnection : IAsyncDisposable
{
    private const int MaxHelloBytes = 1024;
    private const int RearmBytes = 1 << 20;
    private static readonly TimeSpan DefaultPullWait = TimeSpan.FromSeconds(30);

    private readonly IParameterShard _shard;
    private readonly JobAuth _auth;
    private readonly RefusalLog _refusals;
    private readonly ServerLimits _limits;
    private readonly PushMemoryBudget _budget;
    private readonly ILogger _log;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly string _peer;
    private readonly CancellationToken _closed;
    private readonly CancellationTokenSource _deadline;   // re-armed for every read and write
    private CancellationTokenSource _wait;                // a pull's wait for its step; replaced once it fired
    private readonly XxHash3 _hash = new();
    private readonly int _shardBytes;

    public TensorConnection(IParameterShard shard, JobAuth auth, RefusalLog refusals, ServerLimits limits, PushMemoryBudget budget, ILogger log,
        ConnectionContext connection)
    {
        (_shard, _auth, _refusals, _limits, _budget) = (shard, auth, refusals, limits, budget);
        _peer = connection.RemoteEndPoint?.ToString() ?? "unknown peer";
        _log = log.ForContext("Peer", _peer);
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _closed = connection.ConnectionClosed;
        // Not linked to ConnectionClosed: a peer that closes mid-frame should be seen as a completed pipe, with the bytes it sent.
        _deadline = new CancellationTokenSource();
        _wait = CancellationTokenSource.CreateLinkedTokenSource(_closed);
        _shardBytes = checked((int)shard.Info.Length * sizeof(float));
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
                switch (header.Kind)
                {
                    case FrameKind.Push: await PushAsync(header).ConfigureAwait(false); break;
                    case FrameKind.Pull:
                        current = default;   // a pull has no payload: once its header is in, nothing is mid-frame
                        await PullAsync(header).ConfigureAwait(false);
                        break;
                    default:
                        header.Validate(0);
                        throw ShardException.Invalid($"{header.Kind} frames go from server to client; a client sends Push or Pull");
                }
                current = default;
            }
        }
        catch (ShardException e) when (e.Kind is ShardErrorKind.InvalidRequest or ShardErrorKind.Unauthenticated)
        {
            _refusals.Refused("data plane", _peer, e.Message);
            await TryAnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException or ConnectionAbortedException)
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
        hello.Validate(int.MaxValue);
        if (hello.Kind != FrameKind.Hello)
            throw new ShardException(ShardErrorKind.Unauthenticated, $"the first frame of a data-plane connection must be Hello with the job token, not {hello.Kind}");
        hello.Validate(MaxHelloBytes);
        var token = new byte[hello.Length];
        await ReadPayloadAsync(token).ConfigureAwait(false);
        Verify(hello, token);
        if (_auth.Token is { } expected && !expected.Matches(Encoding.UTF8.GetString(token)))
            throw new ShardException(ShardErrorKind.Unauthenticated, "the connection carries no valid job token");
        if (hello.Shard != _shard.Info.Index)
            throw ShardException.Invalid($"this server owns shard {_shard.Info.Index}; the client expects shard {hello.Shard}");
        var welcome = FrameHeader.Of(FrameKind.Welcome);
        (welcome.Shard, welcome.Count) = (_shard.Info.Index, _shard.Info.Length);
        await AnswerAsync(welcome, "").ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a push's values into a pooled buffer, checks the checksum, and hands them to the shard; answers its outcome.
    /// bfloat16 values are widened into a second pooled buffer. The buffers are reserved from the in-flight push memory
    /// budget first; a push that does not fit is read past (the stream stays in step) and answered busy (Unavailable,
    /// which workers retry), as over gRPC.
    /// </summary>
    private async ValueTask PushAsync(FrameHeader header)
    {
        header.Validate(_shardBytes);
        var encoding = FrameAnswers.EncodingOf(header);
        int valueBytes = encoding == TensorEncoding.BFloat16 ? sizeof(ushort) : sizeof(float);
        if (header.Length % valueBytes != 0)
            throw ShardException.Invalid($"push of {header.Length} bytes is not a whole number of {valueBytes}-byte values");
        long reservation = header.Length + (encoding == TensorEncoding.BFloat16 ? 2L * header.Length : 0);
        if (!_budget.TryReserve(reservation))
        {
            await SkipPayloadAsync(header.Length).ConfigureAwait(false);
            var reason = $"server busy: pushes in flight hold {_budget.InUse >> 20} MiB of the {_budget.Capacity >> 20} MiB budget " +
                $"(--max-inflight-push-mb) and this one needs {(reservation >> 20) + 1} MiB; retry later";
            _refusals.Refused("data plane push", _peer, reason);
            await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.Unavailable, _shard.Info.Index), reason).ConfigureAwait(false);
            return;
        }
        // A push before its round-robin slot is held until the slot opens, its bytes left in the socket (the sender waits).
        await _shard.WaitForSlotAsync(FrameAnswers.PushOf(header), _closed).ConfigureAwait(false);
        var bytes = ArrayPool<byte>.Shared.Rent(header.Length);
        float[]? widened = null;
        try
        {
            await ReadPayloadAsync(bytes.AsMemory(0, header.Length)).ConfigureAwait(false);
            Verify(header, bytes.AsSpan(0, header.Length));
            var push = FrameAnswers.PushOf(header);
            if (push.Shard != _shard.Info.Index)
                throw ShardException.Invalid($"push for shard {push.Shard} sent to shard {_shard.Info.Index}");
            int count = header.Length / valueBytes;
            if (encoding == TensorEncoding.BFloat16)
            {
                widened = ArrayPool<float>.Shared.Rent(count);
                BFloat16.Decode(new ReadOnlySequence<byte>(bytes, 0, header.Length), widened.AsSpan(0, count));
            }
            PushOutcome outcome;
            try
            {
                outcome = _shard.Push(push, widened is null ? MemoryMarshal.Cast<byte, float>(bytes.AsSpan(0, header.Length)) : widened.AsSpan(0, count));
            }
            catch (ShardException e)
            {
                await AnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
                return;
            }
            await AnswerAsync(FrameAnswers.PushReplyFrame(outcome, _shard.Info.Index), outcome.Reason).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            if (widened is not null) ArrayPool<float>.Shared.Return(widened);
            _budget.Release(reservation);
        }
    }

    /// <summary>Waits for the pull's step (within its wait limit), then writes the parameters straight into the output pipe.</summary>
    private async ValueTask PullAsync(FrameHeader header)
    {
        header.Validate(0);
        Verify(header, []);
        if (header.Worker < -1 || header.Count < 0)
        {
            var wrong = header.Worker < -1 ? $"worker_id {header.Worker} is not a worker id (or -1 for observers)" : $"min_step {header.Count} is negative";
            await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.InvalidRequest, _shard.Info.Index), wrong).ConfigureAwait(false);
            return;
        }
        var wait = header.Part > 0 ? TimeSpan.FromMilliseconds(header.Part) : DefaultPullWait;
        _wait.CancelAfter(wait);
        try
        {
            await _shard.WaitForStepAsync(header.Worker, header.Count, _wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_closed.IsCancellationRequested)
        {
            await AnswerAsync(FrameAnswers.ErrorFrame(ShardErrorKind.Timeout, _shard.Info.Index),
                $"shard {_shard.Info.Index} did not reach step {header.Count} within {wait.TotalMilliseconds:F0} ms").ConfigureAwait(false);
            return;
        }
        catch (ShardException e)
        {
            await AnswerAsync(FrameAnswers.ErrorFrame(e.Kind, _shard.Info.Index), e.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException)
        {
            return;   // the client closed the connection while its pull waited (it gave the pull up): routine
        }
        finally
        {
            if (!_wait.TryReset())
            {
                _wait.Dispose();
                _wait = CancellationTokenSource.CreateLinkedTokenSource(_closed);
            }
        }
        if (WriteParameters() is { } refused)
        {
            await AnswerAsync(FrameAnswers.ErrorFrame(refused.Kind, _shard.Info.Index), refused.Message).ConfigureAwait(false);
            return;
        }
        await FlushAsync().ConfigureAwait(false);
    }

    /// <summary>A PullReply with the shard's parameters, copied into the output pipe's buffer and checksummed there.</summary>
    private ShardException? WriteParameters()
    {
        var frame = _output.GetSpan(FrameHeader.Size + _shardBytes)[..(FrameHeader.Size + _shardBytes)];
        var payload = frame[FrameHeader.Size..];
        PullResult pulled;
        try { pulled = _shard.CopyParameters(MemoryMarshal.Cast<byte, float>(payload)); }
        catch (ShardException e) { return e; }
        var header = FrameHeader.Of(FrameKind.PullReply);
        (header.Step, header.Shard, header.Count, header.Length) = (pulled.Step, pulled.Shard, pulled.Offset, _shardBytes);
        if (pulled.Finished) header.Flags |= FrameFlags.Finished;
        header.Seal(_hash, payload);
        header.WriteTo(frame);
        _output.Advance(frame.Length);
        return null;
    }

    /// <summary>Writes a frame whose payload is <paramref name="message"/> (UTF-8) and flushes it.</summary>
    private ValueTask AnswerAsync(FrameHeader header, string message)
    {
        var payload = FrameAnswers.MessageBytes(message);
        header.Length = payload.Length;
        header.Seal(_hash, payload);
        var frame = _output.GetSpan(FrameHeader.Size + payload.Length);
        header.WriteTo(frame);
        payload.CopyTo(frame[FrameHeader.Size..]);
        _output.Advance(FrameHeader.Size + payload.Length);
        return FlushAsync();
    }

    /// <summary>A last answer before the connection closes; a peer that is gone already does not get it.</summary>
    private async ValueTask TryAnswerAsync(FrameHeader header, string message)
    {
        try { await AnswerAsync(header, message).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException or InvalidOperationException) { }
    }

    private async ValueTask FlushAsync()
    {
        _deadline.CancelAfter(_limits.PushIdleTimeout);
        await _output.FlushAsync(_deadline.Token).ConfigureAwait(false);
        Disarm();
    }

    /// <summary>The next frame's header, within <paramref name="limit"/>; null when the peer closed between frames.</summary>
    private async ValueTask<FrameHeader?> ReadHeaderAsync(TimeSpan limit)
    {
        _deadline.CancelAfter(limit);
        while (true)
        {
            var result = await _input.ReadAsync(_deadline.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= FrameHeader.Size)
            {
                var header = HeaderOf(buffer);
                _input.AdvanceTo(buffer.GetPosition(FrameHeader.Size));
                Disarm();
                return header;
            }
            if (result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                if (buffer.IsEmpty) return null;
                throw ShardException.Invalid($"the connection closed after {buffer.Length} of a frame header's {FrameHeader.Size} bytes (a truncated frame)");
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Fills <paramref name="destination"/> with the frame's payload; every read must make progress within the frame deadline.</summary>
    private async ValueTask ReadPayloadAsync(Memory<byte> destination)
    {
        // The socket transport hands a large payload over in 4 KiB blocks; re-arming the timer for each of them cost a
        // quarter of a 4 MiB push (measured), so the deadline is re-armed once per RearmBytes of progress instead.
        int filled = 0, armedAt = -RearmBytes;
        while (filled < destination.Length)
        {
            if (filled - armedAt >= RearmBytes) (armedAt, _) = (filled, Arm());
            var result = await _input.ReadAsync(_deadline.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            var take = (int)Math.Min(buffer.Length, destination.Length - filled);
            buffer.Slice(0, take).CopyTo(destination.Span[filled..]);
            filled += take;
            _input.AdvanceTo(buffer.GetPosition(take));
            if (filled < destination.Length && result.IsCompleted)
                throw new IOException($"the peer closed the connection after {filled} of the frame's {destination.Length} payload bytes (a truncated frame)");
        }
        Disarm();
    }

    /// <summary>Reads past <paramref name="length"/> payload bytes without keeping them, under the same deadlines.</summary>
    private async ValueTask SkipPayloadAsync(int length)
    {
        var skipped = 0;
        while (skipped < length)
        {
            _deadline.CancelAfter(_limits.PushIdleTimeout);
            var result = await _input.ReadAsync(_deadline.Token).ConfigureAwait(false);
            var take = (int)Math.Min(result.Buffer.Length, length - skipped);
            skipped += take;
            _input.AdvanceTo(result.Buffer.GetPosition(take));
            if (skipped < length && result.IsCompleted)
                throw new IOException($"the peer closed the connection after {skipped} of the frame's {length} payload bytes (a truncated frame)");
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

    private static FrameHeader HeaderOf(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.FirstSpan.Length >= FrameHeader.Size) return FrameHeader.Read(buffer.FirstSpan);
        Span<byte> bytes = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(bytes);
        return FrameHeader.Read(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
        _deadline.Dispose();
        _wait.Dispose();
    }
}
