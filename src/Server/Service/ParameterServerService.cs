using System.Buffers;
using Google.Protobuf;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using Grpc.Core;

namespace GpuPs.Server;

/// <summary>
/// The gRPC face of one <see cref="IParameterShard"/>: decodes requests, hands them to the shard, and ends a call the
/// shard refused with the status <see cref="WireStatus"/> maps its answer to (a <see cref="ShardException"/>, or a push's
/// <see cref="PushOutcome"/> that was not applied). A request that never reaches the shard — malformed bytes, a
/// malformed or idle push stream — is refused here (INVALID_ARGUMENT; DEADLINE_EXCEEDED for an idle stream) and logged
/// once through <see cref="RefusalLog"/>. No training logic here.
/// </summary>
/// <remarks>
/// Bound by hand (<see cref="BindService"/>) because the proto is compiled without service stubs. grpc-dotnet activates one
/// instance per call with the shard from DI and finds each handler by the descriptor's method name; it only accepts public
/// <em>virtual</em> instance methods declared by the type named in <see cref="BindService"/>'s second parameter, hence
/// the <c>virtual</c>s. Handlers run concurrently on the thread pool; the shard is thread-safe.
/// </remarks>
[BindServiceMethod(typeof(ParameterServerService), nameof(BindService))]
public class ParameterServerService(IParameterShard shard, RefusalLog refusals, ServerLimits limits, PushMemoryBudget budget, DataPlane.DataPlaneAdvert dataPlane)
{
    /// <summary>
    /// How long a refused push's stream may pause before the refusal is answered without the rest (<see cref="DrainAsync"/>):
    /// 0.5 s, while a streaming client sends its next 1 MiB chunk within milliseconds.
    /// </summary>
    private static readonly TimeSpan RefusedPushGrace = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Adds the six methods to <paramref name="binder"/>. grpc-dotnet calls it once with a null
    /// <paramref name="service"/> to learn the methods, then activates an instance per call.
    /// </summary>
    public static void BindService(ServiceBinderBase binder, ParameterServerService? service)
    {
        binder.AddMethod(ParameterServerMethods.Served.Register, service == null ? null! : service.Register);
        binder.AddMethod(ParameterServerMethods.Served.Pull, service == null ? null! : service.Pull);
        binder.AddMethod(ParameterServerMethods.Push, service == null ? null! : service.Push);
        binder.AddMethod(ParameterServerMethods.Served.Heartbeat, service == null ? null! : service.Heartbeat);
        binder.AddMethod(ParameterServerMethods.Served.Status, service == null ? null! : service.Status);
        binder.AddMethod(ParameterServerMethods.Served.AwaitPushTurn, service == null ? null! : service.AwaitPushTurn);
    }

    /// <summary>
    /// Admits a worker (<see cref="IParameterShard.Register"/>); a refusal ends the call with its status. The reply
    /// advertises the framed TCP data plane, if the server runs one.
    /// </summary>
    public virtual Task<RegisterReply> Register(Received<RegisterRequest> request, ServerCallContext context)
    {
        var message = Accept(request, context);
        try
        {
            return Task.FromResult(dataPlane.AddTo(shard.Register(message)));
        }
        catch (ShardException e)
        {
            throw WireStatus.ToRpc(e);
        }
    }

    /// <summary>
    /// Waits (within the call deadline) until the shard reaches <c>min_step</c>, then returns its parameters in a pooled
    /// <see cref="PullFrame"/> that is serialized straight from the pool and returned to it when the request completes.
    /// </summary>
    public virtual async Task<PullFrame> Pull(Received<PullRequest> received, ServerCallContext context)
    {
        var request = Accept(received, context);
        try
        {
            if (request.WorkerId < -1) throw Invalid($"worker_id {request.WorkerId} is not a worker id (or -1 for observers)");
            if (request.MinStep < 0) throw Invalid($"min_step {request.MinStep} is negative");
            if (request.PieceOffset < 0 || request.PieceLength < 0 || request.PieceOffset + request.PieceLength > ShardLength || (request.PieceLength == 0 && request.PieceOffset != 0))
                throw Invalid($"piece [{request.PieceOffset}, +{request.PieceLength}) is not a range of the shard's {ShardLength} parameters");
            await (request.PieceLength > 0
                ? shard.WaitForPieceAsync(request.WorkerId, request.MinStep, new PieceRange((int)request.PieceOffset, (int)request.PieceLength), context.CancellationToken)
                : shard.WaitForStepAsync(request.WorkerId, request.MinStep, context.CancellationToken));
            // The response is written after this returns: its end starts a round-robin job's next pull.
            context.GetHttpContext().Response.OnCompleted(() =>
            {
                shard.PullSent(request.WorkerId);
                return Task.CompletedTask;
            });
            var frame = PullFrame.Rent(request.PieceLength > 0 ? (int)request.PieceLength : ShardLength);
            context.GetHttpContext().Response.RegisterForDispose(frame);
            PullResult result;
            if (request.PieceLength > 0)
            {
                result = shard.CopyParameters((int)request.PieceOffset, frame.Values.Span);   // a piece is a range in full, never a delta
            }
            else
            {
                result = shard.CopyForPull(request.WorkerId, request.ViewVersion, frame.Values.Span);
            }
            (frame.Step, frame.Shard, frame.Offset, frame.Finished, frame.ViewVersion, frame.Encoding) =
                (result.Step, result.Shard, result.Offset, result.Finished, result.ViewVersion, result.Encoding);
            return frame;
        }
        catch (ShardException e)
        {
            throw WireStatus.ToRpc(e);
        }
    }

    /// <summary>
    /// Reads the whole chunk stream into one pooled buffer and hands it to the shard only if the stream is well formed:
    /// every chunk for this shard with the first chunk's header (or none), in order, without gaps or overlap, each
    /// carrying values (only an empty shard's one chunk is empty, so a push has at most one chunk per value), covering
    /// exactly the shard, and none more than <see cref="ServerLimits.PushIdleTimeout"/> after the one before. Anything
    /// else is refused and nothing is applied.
    /// </summary>
    /// <remarks>
    /// The stream first reserves its memory from the <see cref="PushMemoryBudget"/> (refused, busy, when it does not fit).
    /// A push refused busy, or one the shard refuses on its first chunk (late, duplicate, unknown worker …) is answered only once the rest of
    /// its stream has been read and dropped (or the stream pauses): ending the call while the client still sends makes Kestrel reset the
    /// stream and keep tracking it for 5 s, and about 100 of those on one connection make it answer every new call
    /// there, innocent pulls and heartbeats included, with RST_STREAM ENHANCE_YOUR_CALM (issue 11, item 7).
    /// </remarks>
    public virtual async Task<PushReply> Push(IAsyncStreamReader<PushChunkFrame> requestStream, ServerCallContext context)
    {
        var length = ShardLength;
        long reservation = limits.PushReservation(length);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        if (!budget.TryReserve(reservation))
        {
            var reason = $"server busy: pushes in flight hold {budget.InUse >> 20} MiB of the {budget.Capacity >> 20} MiB budget " +
                $"(--max-inflight-push-mb) and this one needs {(reservation >> 20) + 1} MiB; retry later";
            refusals.Refused(context.Method, context.Peer, reason);
            // Drained like every other refusal (one chunk at a time, outside the budget). Answered mid-stream, the client
            // (SocketsHttpHandler, .NET 10) resets the stream and may still send a DATA frame after its RST_STREAM, which
            // Kestrel takes as a connection error (STREAM_CLOSED); the client's next push, already sent on that
            // connection, is then retried on a new one without its chunks: refused as empty, or stalled for the push
            // idle timeout (3 of 40 busy refusals on the loaded 2-core machine; PushMemoryBudgetLoopbackTests).
            await DrainAsync(requestStream, idle, length);
            throw WireStatus.Busy(reason);
        }
        var gradient = ArrayPool<float>.Shared.Rent(length);
        var lease = PushTurnLease.None;
        bool nextPiece = false;   // the shard holds the turn for this push's next piece
        try
        {
            PushHeader? header = null;
            int received = 0, end = length;   // a piece's stream covers [piece.Offset, piece.End) instead of the shard
            while (await NextChunkAsync(requestStream, idle, context))
            {
                using var chunk = requestStream.Current;
                if (chunk.Count == 0 && (length > 0 || header is not null))
                    throw Malformed(context, $"chunk at offset {chunk.Offset} carries no values (only the one chunk of an empty shard may)");
                if (header is null)
                {
                    if (chunk.Header.Shard != shard.Info.Index)
                        throw Malformed(context, $"push for shard {chunk.Header.Shard} sent to shard {shard.Info.Index}");
                    header = chunk.Header;
                    if (chunk.Header.Piece is { } piece)
                    {
                        piece.Validate(length);
                        (received, end) = (piece.Offset, piece.End);
                    }
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);   // waiting for its turn is not the stream's idleness
                    lease = await shard.WaitForSlotAsync(chunk.Header, context.CancellationToken);
                    var refusal = Refusal(chunk.Header);
                    if (refusal is not null)
                    {
                        await DrainAsync(requestStream, idle, length);
                        throw refusal;
                    }
                }
                else if (chunk.Header != header && chunk.Header != default)
                {
                    throw Malformed(context, $"chunk at offset {chunk.Offset} has header {chunk.Header}, the stream started with {header}");
                }
                if (chunk.Offset != received)
                    throw Malformed(context, $"chunk at offset {chunk.Offset} does not follow the previous data, which ends at {received} (chunks must be in order, without gaps or overlap)");
                if (chunk.Count > end - received)
                    throw Malformed(context, $"chunk [{chunk.Offset}, {chunk.Offset + chunk.Count}) runs past {(end == length ? $"the shard's {length} parameters" : $"its piece, which ends at {end}")}");
                try
                {
                    chunk.CopyTo(gradient.AsSpan(received, chunk.Count));   // decodes (and validates) a compressed chunk
                }
                catch (ShardException e)
                {
                    throw Malformed(context, $"chunk at offset {chunk.Offset}: {e.Message}; nothing of the push is applied");
                }
                received += chunk.Count;
            }
            if (header is not { } h) throw Malformed(context, "push stream carried no chunks");
            if (received != end)
                throw Malformed(context, h.Piece is { } piece ? $"piece {piece} covers only up to {received}" : $"push covers {received} of the shard's {length} parameters");
            lease.Arrived();
            int start = h.Piece?.Offset ?? 0;
            var outcome = await shard.PushAsync(h, gradient.AsMemory(start, end - start), context.CancellationToken);
            nextPiece = outcome.IsApplied && h.Piece is not null && shard.ClosingRanges is null;
            if (!outcome.IsApplied) throw WireStatus.ToRpc(outcome);
            return new PushReply { Step = outcome.Step, Applied = outcome.ClosedStep, Finished = outcome.JobFinished };
        }
        catch (ShardException e)
        {
            // A silent stream has nothing to drain; a malformed or refused one may still be sending.
            if (e.Kind != ShardErrorKind.Timeout) await DrainAsync(requestStream, idle, length);
            throw WireStatus.ToRpc(e);
        }
        catch (Exception e) when (e is IOException || (e is OperationCanceledException && context.CancellationToken.IsCancellationRequested))
        {
            // The worker gave the push up (its step closed without it): routine, not a server error.
            throw new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "push cancelled by the worker"));
        }
        finally
        {
            lease.End(nextPiece);   // a malformed, refused, timed-out or cancelled push frees its turn now
            ArrayPool<float>.Shared.Return(gradient);
            budget.Release(reservation);
        }
    }

    /// <summary>
    /// Holds a worker's request for its push turn until the shard grants it or the push's step closed
    /// (<see cref="IParameterShard.AwaitPushTurnAsync"/>); a refusal (an unknown worker, a piece out of range) ends the
    /// call with its status.
    /// </summary>
    public virtual async Task<PushTurnReply> AwaitPushTurn(Received<PushTurnRequest> request, ServerCallContext context)
    {
        var message = Accept(request, context);
        try
        {
            return await shard.AwaitPushTurnAsync(message, context.CancellationToken);
        }
        catch (ShardException e)
        {
            throw WireStatus.ToRpc(e);
        }
    }

    /// <summary>
    /// A worker's sign of life (<see cref="IParameterShard.Heartbeat"/>); a refusal ends the call with its status.
    /// </summary>
    public virtual Task<HeartbeatReply> Heartbeat(Received<HeartbeatRequest> request, ServerCallContext context)
    {
        var message = Accept(request, context);
        try
        {
            return Task.FromResult(shard.Heartbeat(message));
        }
        catch (ShardException e)
        {
            throw WireStatus.ToRpc(e);
        }
    }

    /// <summary>
    /// The shard's progress and counters (<see cref="IParameterShard.Status"/>), with the server's own: pushes refused
    /// busy, the in-flight push memory now and at its peak, and calls refused before they reached the shard.
    /// </summary>
    public virtual Task<StatusReply> Status(Received<StatusRequest> request, ServerCallContext context)
    {
        Accept(request, context);
        try
        {
            var reply = shard.Status();
            reply.PushesRefusedBusy = budget.Refused;
            reply.InflightPushBytes = budget.InUse;
            reply.InflightPushBytesPeak = budget.Peak;
            reply.CallsRefusedUnread = refusals.Count;
            return Task.FromResult(reply);
        }
        catch (ShardException e)
        {
            throw WireStatus.ToRpc(e);
        }
    }

    private int ShardLength => checked((int)shard.Info.Length);

    private static ShardException Invalid(string message) => ShardException.Invalid(message);

    /// <summary>The request's message; malformed bytes are logged and refused (INVALID_ARGUMENT) before the shard sees them.</summary>
    private T Accept<T>(Received<T> request, ServerCallContext context) where T : class, IMessage<T>
    {
        if (request.Message is { } message) return message;
        throw WireStatus.ToRpc(Malformed(context, request.Malformation!));
    }

    /// <summary>How the shard refuses a push with <paramref name="header"/> on its first chunk, as the call's status; null when it admits it.</summary>
    private RpcException? Refusal(PushHeader header)
    {
        try
        {
            var admitted = shard.Admit(header);
            return admitted.IsApplied ? null : WireStatus.ToRpc(admitted);
        }
        catch (ShardException e)
        {
            return WireStatus.ToRpc(e);
        }
    }

    /// <summary>
    /// Reads and drops the rest of a refused or malformed push, up to the end of its stream, so that the client ends the
    /// stream and Kestrel tracks no reset stream. At most <paramref name="remaining"/> more values (a shard's worth; a
    /// chunk of bad bytes counts as one), and only while chunks keep coming (<see cref="RefusedPushGrace"/>): a client
    /// that waits for the answer gets it then, and a stream that sends too much or breaks off is simply left. The
    /// refusal stands either way.
    /// </summary>
    private static async Task DrainAsync(IAsyncStreamReader<PushChunkFrame> stream, CancellationTokenSource idle, long remaining)
    {
        try
        {
            while (remaining >= 0)
            {
                idle.CancelAfter(RefusedPushGrace);
                try
                {
                    if (!await stream.MoveNext(idle.Token)) return;
                }
                catch (ShardException)
                {
                    remaining--;   // PushChunkFrame.Parse refused the chunk's bytes; the stream goes on
                    continue;
                }
                using var chunk = stream.Current;
                remaining -= Math.Max(1, chunk.Count);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException) { }
    }

    /// <summary>A push stream's next chunk, within <see cref="ServerLimits.PushIdleTimeout"/>; malformed chunk bytes are refused.</summary>
    private async Task<bool> NextChunkAsync(IAsyncStreamReader<PushChunkFrame> stream, CancellationTokenSource idle, ServerCallContext context)
    {
        idle.CancelAfter(limits.PushIdleTimeout);
        try
        {
            return await stream.MoveNext(idle.Token);
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            var reason = $"push stream sent no chunk for {limits.PushIdleTimeout.TotalMilliseconds:F0} ms: dropped";
            refusals.Refused(context.Method, context.Peer, reason);
            throw new ShardException(ShardErrorKind.Timeout, reason);
        }
        catch (ShardException e)
        {
            // PushChunkFrame.Parse refused the chunk's bytes.
            throw Malformed(context, e.Message);
        }
    }

    /// <summary>Logs (through <see cref="RefusalLog"/>) and returns the InvalidRequest for a request that never reached the shard.</summary>
    private ShardException Malformed(ServerCallContext context, string reason)
    {
        refusals.Refused(context.Method, context.Peer, reason);
        return Invalid(reason);
    }
}
