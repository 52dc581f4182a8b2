using System.Collections.Concurrent;
using System.Diagnostics;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Tests.Fakes;

/// <summary>
/// A transport that is not one: both planes call a <see cref="IParameterShard"/> in this process, with the deadline
/// semantics of the real ones (a pull whose wait outlasts its timeout fails with <see cref="ShardErrorKind.Timeout"/>).
/// It counts calls, can make the next calls fail as if the shard were unreachable, and can freeze (every call waits
/// until its deadline, like a SIGSTOPped server), so that tests see what the worker loop and
/// <see cref="Client.ShardedParameterClient"/> do, without a socket.
/// </summary>
public sealed class InProcessShard(IParameterShard shard) : ITensorChannel, IShardControl, IAsyncDisposable
{
    private int _failNext;
    private volatile bool _frozen;
    private int _loseReplyOfWorker = -1;
    private int _pulls, _pushes, _heartbeats, _registrations, _unknownWorkerNext, _inFlightPushes, _mostInFlightPushes;
    private volatile TaskCompletionSource? _pushGate;

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(10);

    public int Pulls => Volatile.Read(ref _pulls);
    public int Pushes => Volatile.Read(ref _pushes);
    public int Heartbeats => Volatile.Read(ref _heartbeats);
    public int Registrations => Volatile.Read(ref _registrations);

    /// <summary>How many times a connection disposed this transport.</summary>
    public int Disposals => Volatile.Read(ref _disposals);
    private int _disposals;

    public ValueTask DisposeAsync()
    {
        Interlocked.Increment(ref _disposals);
        return ValueTask.CompletedTask;
    }

    /// <summary>The shard behind this transport.</summary>
    public IParameterShard Shard => shard;

    /// <summary>Whether the data plane fuses a push with the pull that follows it (as the TCP data plane does).</summary>
    public bool Fuses { get; set; }

    /// <summary>How long each push takes inside the channel before the shard sees it (a slow link).</summary>
    public TimeSpan PushDelay { get; set; }

    /// <summary>How long each piece of a pull takes inside the channel before the shard answers it (a slow link).</summary>
    public TimeSpan PiecePullDelay { get; set; }

    /// <summary>False: a fused call's pull part is not answered (the server could not), so the worker pulls itself.</summary>
    public bool AnswersFusedPulls { get; set; } = true;

    /// <summary>How long a fused call's pull part takes after its push was answered (the wait for the other workers).</summary>
    public TimeSpan FusedPullDelay { get; set; }

    /// <summary>When set, every heartbeat reply carries this push slot (a round-robin coordinator's answer).</summary>
    public PushSlot? Slot { get; set; }

    /// <summary>Every heartbeat request, in arrival order.</summary>
    public ConcurrentQueue<HeartbeatRequest> HeartbeatRequests { get; } = new();

    /// <summary>Every push and pull (whole, or a piece) as it arrived: (push?, its step or a pull's minimum step, the piece or null).</summary>
    public ConcurrentQueue<(bool Push, long Step, PieceRange? Piece)> Transfers { get; } = new();

    /// <summary>Every push turn request (round-robin), in arrival order.</summary>
    public ConcurrentQueue<PushTurnRequest> TurnRequests { get; } = new();

    /// <summary>The next <paramref name="calls"/> push turn requests wait out their deadline (<see cref="ShardErrorKind.Timeout"/>), as when the turn is slow to come.</summary>
    public void TimeOutNextTurns(int calls) => Volatile.Write(ref _timeOutTurns, calls);
    private int _timeOutTurns;

    /// <summary>How long each push turn request waits before the shard is asked (the other workers' turns before it).</summary>
    public TimeSpan TurnDelay { get; set; }

    /// <summary>Runs once, right after the next piece pull copied its values (e.g. another worker's push moves the shard on).</summary>
    public Action? AfterNextPiecePull { get => _afterNextPiecePull; set => _afterNextPiecePull = value; }
    private Action? _afterNextPiecePull;

    /// <summary>The most pushes that were inside this channel at one time.</summary>
    public int MostPushesInFlight => Volatile.Read(ref _mostInFlightPushes);

    /// <summary>The next <paramref name="calls"/> heartbeats fail with <paramref name="kind"/> (unreachable, or a refusal); other calls go through.</summary>
    public void FailNextHeartbeats(int calls, ShardErrorKind kind = ShardErrorKind.Unavailable)
    {
        _heartbeatFailure = kind;
        Volatile.Write(ref _failHeartbeats, calls);
    }
    private int _failHeartbeats;
    private volatile ShardErrorKind _heartbeatFailure;

    /// <summary>The next <paramref name="calls"/> pushes fail with <see cref="ShardErrorKind.UnknownWorker"/> (a restarted shard).</summary>
    public void ForgetWorkerNext(int calls) => Volatile.Write(ref _unknownWorkerNext, calls);

    /// <summary>Pushes wait inside the channel (counted in flight) until <see cref="ReleasePushes"/>.</summary>
    public void HoldPushes() => _pushGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the held pushes, and every later one, through.</summary>
    public void ReleasePushes() => Interlocked.Exchange(ref _pushGate, null)?.TrySetResult();

    /// <summary>Pushes now inside the channel (held, or being applied).</summary>
    public int PushesInFlight => Volatile.Read(ref _inFlightPushes);

    /// <summary>The next <paramref name="calls"/> calls (of any kind) fail with <see cref="ShardErrorKind.Unavailable"/>.</summary>
    public void FailNext(int calls) => Volatile.Write(ref _failNext, calls);

    /// <summary>
    /// The next push of worker <paramref name="workerId"/> is applied, but its reply is lost: the call fails as if the shard
    /// became unreachable after applying it, so the client retries a push the shard already has.
    /// </summary>
    public void LoseNextReplyOf(int workerId) => Volatile.Write(ref _loseReplyOfWorker, workerId);

    /// <summary>From now on every call hangs until its deadline (then <see cref="ShardErrorKind.Timeout"/>) or cancellation.</summary>
    public void Freeze() => _frozen = true;

    public ShardConnection Connect() => new($"in-process shard {shard.Info.Index}", this, this);

    public async Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _registrations);
        await Answer(timeout, cancellationToken);
        return shard.Register(request);
    }

    public async Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pulls);
        Transfers.Enqueue((false, minStep, null));
        await Answer(timeout, cancellationToken);
        await WaitAsync(workerId, minStep, timeout, cancellationToken);
        return shard.CopyParameters(destination.Span);
    }

    /// <summary>A whole pull naming the worker's copy (compressed pulls): the shard's own answer, a delta or in full.</summary>
    public async Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pulls);
        Transfers.Enqueue((false, minStep, null));
        await Answer(timeout, cancellationToken);
        await WaitAsync(workerId, minStep, timeout, cancellationToken);
        return shard.CopyForPull(workerId, viewVersion, destination.Span);
    }

    /// <summary>As both real edges: a piece pull waits for its range (<see cref="IParameterShard.WaitForPieceAsync"/>), a whole pull for the step.</summary>
    private async Task WaitAsync(int workerId, long minStep, TimeSpan? timeout, CancellationToken cancellationToken, PieceRange? piece = null)
    {
        try
        {
            var reached = piece is { } range ? shard.WaitForPieceAsync(workerId, minStep, range, cancellationToken) : shard.WaitForStepAsync(workerId, minStep, cancellationToken);
            await reached.WaitAsync(timeout ?? DefaultTimeout, cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new ShardException(ShardErrorKind.Timeout, $"step {minStep} not reached within {timeout ?? DefaultTimeout}", e);
        }
    }

    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        Interlocked.Increment(ref _pushes);
        Transfers.Enqueue((true, header.Step, header.Piece));
        int inFlight = Interlocked.Increment(ref _inFlightPushes);
        try
        {
            for (int most = _mostInFlightPushes; inFlight > most; most = _mostInFlightPushes)
                Interlocked.CompareExchange(ref _mostInFlightPushes, inFlight, most);
            if (_pushGate is { } gate) await gate.Task.WaitAsync(cancellationToken);
            if (PushDelay > TimeSpan.Zero) await Task.Delay(PushDelay, cancellationToken);
            await Answer(timeout, cancellationToken);
            if (Interlocked.Decrement(ref _unknownWorkerNext) >= 0)
                throw new ShardException(ShardErrorKind.UnknownWorker, $"in-process shard does not know worker {header.WorkerId}");
            Interlocked.Exchange(ref _unknownWorkerNext, 0);
            // As the real edges: a round-robin push goes under its turn (the one granted before its first byte) until it is answered.
            var lease = await shard.WaitForSlotAsync(header, cancellationToken);
            bool nextPiece = false;   // the shard holds the turn for this push's next piece
            try
            {
                var admitted = shard.Admit(header);
                var outcome = admitted.IsApplied ? shard.Push(header, gradient.Span) : admitted;
                if (outcome.IsApplied && Interlocked.CompareExchange(ref _loseReplyOfWorker, -1, header.WorkerId) == header.WorkerId)
                    throw new ShardException(ShardErrorKind.Unavailable, "in-process shard: the reply of an applied push was lost");
                nextPiece = outcome.IsApplied && header.Piece is not null && shard.ClosingRanges is null;
                return outcome;
            }
            finally
            {
                lease.End(nextPiece);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlightPushes);
        }
    }

    public bool FusesPushPull => Fuses;

    /// <summary>Pushes, then, when the channel fuses and the push was applied, pulls in the same call (the TCP data plane's contract).</summary>
    public async Task<FusedPushPull> PushPullAsync(PushHeader header, ReadOnlyMemory<float> gradient, long minStep, Memory<float> destination,
        CancellationToken cancellationToken, TimeSpan? timeout = null, TensorEncoding encoding = TensorEncoding.Float32)
    {
        var outcome = await PushAsync(header, gradient, cancellationToken, timeout, encoding);
        long answeredAt = Stopwatch.GetTimestamp();
        if (!Fuses || !outcome.IsApplied || !AnswersFusedPulls) return new FusedPushPull(outcome, answeredAt, null);
        if (FusedPullDelay > TimeSpan.Zero) await Task.Delay(FusedPullDelay, cancellationToken);
        return new FusedPushPull(outcome, answeredAt, await PullAsync(header.WorkerId, minStep, destination, cancellationToken, timeout));
    }

    /// <summary>One piece of the shard's parameters once it reached the step, copied by the shard's own piece copy.</summary>
    public async Task<PullResult> PullPieceAsync(int workerId, long minStep, PieceRange piece, Memory<float> destination, int shardLength,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pulls);
        Transfers.Enqueue((false, minStep, piece));
        if (PiecePullDelay > TimeSpan.Zero) await Task.Delay(PiecePullDelay, cancellationToken);
        await Answer(timeout, cancellationToken);
        await WaitAsync(workerId, minStep, timeout, cancellationToken, piece);
        var result = shard.CopyParameters(piece.Offset, destination.Span);
        Interlocked.Exchange(ref _afterNextPiecePull, null)?.Invoke();
        return result;
    }

    public async Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _heartbeats);
        HeartbeatRequests.Enqueue(request.Clone());
        await Answer(timeout, cancellationToken);
        if (Interlocked.Decrement(ref _failHeartbeats) >= 0)
            throw new ShardException(_heartbeatFailure, "in-process shard dropped a heartbeat");
        Interlocked.Exchange(ref _failHeartbeats, 0);
        var reply = shard.Heartbeat(request);
        if (Slot is { } slot) reply.PushSlot = slot.Clone();
        return reply;
    }

    /// <summary>The shard's own turn wait (<see cref="IParameterShard.AwaitPushTurnAsync"/>) under the call's deadline.</summary>
    public async Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        TurnRequests.Enqueue(request.Clone());
        await Answer(timeout, cancellationToken);
        if (TurnDelay > TimeSpan.Zero) await Task.Delay(TurnDelay, cancellationToken);
        if (Interlocked.Decrement(ref _timeOutTurns) >= 0)
            throw new ShardException(ShardErrorKind.Timeout, "in-process shard: the push turn did not come within the deadline");
        Interlocked.Exchange(ref _timeOutTurns, 0);
        try
        {
            return await shard.AwaitPushTurnAsync(request, cancellationToken).WaitAsync(timeout ?? DefaultTimeout, cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new ShardException(ShardErrorKind.Timeout, $"push turn of step {request.Step} not granted within {timeout ?? DefaultTimeout}", e);
        }
    }

    public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => Task.FromResult(shard.Status());

    /// <summary>What every call meets first: cancellation, a frozen shard (the deadline passes), or an injected failure.</summary>
    private async Task Answer(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_frozen)
        {
            await Task.Delay(timeout ?? DefaultTimeout, cancellationToken);
            throw new ShardException(ShardErrorKind.Timeout, "frozen in-process shard: deadline passed");
        }
        MaybeFail();
    }

    private void MaybeFail()
    {
        if (Interlocked.Decrement(ref _failNext) >= 0)
            throw new ShardException(ShardErrorKind.Unavailable, "in-process shard made unreachable by the test");
        Interlocked.Exchange(ref _failNext, 0);
    }
}
