using System.Buffers;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using Serilog;

namespace GpuPs.Server.Pieces;

/// <summary>
/// A shard that also takes pushes split into pieces (<see cref="PushHeader.Piece"/>): it gathers a push's pieces into
/// one shard-sized buffer and hands the whole gradient to the shard it wraps once every value has arrived, so the shard
/// (its validation, the mode's rule, the optimizer) sees exactly the push an unsplit client would have sent. Every other
/// member is the wrapped shard's. Both edges (gRPC and the data plane) serve through it.
/// </summary>
/// <remarks>
/// <para><b>Exactly once.</b> A push is identified by worker, step, code row and partition. Its pieces may come in any
/// order and over any connections; a piece that repeats one already held (a retried call) is acknowledged and not copied
/// again, a piece that overlaps another differently is refused, and a piece of a push already handed to the shard is
/// answered <see cref="PushOutcomeKind.Duplicate"/>: no value is ever counted twice and none is lost.</para>
/// <para><b>Answers.</b> A piece that leaves its push incomplete is answered Applied (not closed): held. The piece that
/// completes it gets the shard's own answer to the whole push (Applied, Late, Duplicate …), which is the push's
/// answer.</para>
/// <para><b>Memory.</b> An open push holds one pooled shard-sized buffer, reserved from the server's in-flight push
/// budget (<see cref="PushMemoryBudget"/>, <c>--max-inflight-push-mb</c>) when its first piece arrives and returned when
/// it completes or is dropped: the budget bounds what incomplete pushes hold, as it bounds push streams. A first piece
/// whose push's buffer does not fit is refused busy (<see cref="ShardErrorKind.Unavailable"/>, which workers retry with
/// backoff) before anything of it is held. Open pushes cannot take the room the pieces they wait for need: the piece
/// that opens one holds its own edge reservation while it does and returns it when it ends, so once the pieces in flight
/// have ended there is room for one more.
/// A worker has at most <see cref="MaxOpenPerWorker"/> open; opening one more drops its oldest (logged). At most every
/// <see cref="SweepInterval"/> the open pushes are checked against the shard (<see cref="IParameterShard.Admit"/>) and
/// those it would no longer take are dropped: a push whose step closed without it (a worker that gave the step up, or
/// was evicted for silence and the step closed without it), of a finished job, or of a worker the shard does not know.
/// A push the shard refuses on admission is dropped at once.</para>
/// <para><b>Per-range closing.</b> A shard that closes its ranges one by one (<see cref="IParameterShard.ClosingRanges"/>:
/// BSP with the job's pieces) takes each piece as it arrives, so pieces go to it untouched: nothing is gathered here.</para>
/// Thread-safe.
/// </remarks>
public sealed class PieceAssemblingShard : IParameterShard
{
    /// <summary>Open (incomplete) pushes one worker may have at a time: 4, so a push of step t and prefetched steps beside it.</summary>
    public const int MaxOpenPerWorker = 4;

    /// <summary>
    /// How often open pushes are checked for ones the shard would no longer take: 1 s, a fraction of any step timeout and
    /// heartbeat timeout (60 s by default), so dead buffers go back long before a busy server would miss them, and one
    /// <see cref="IParameterShard.Admit"/> per open push a second costs nothing against a step.
    /// </summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>Completed pushes remembered, to answer a repeated piece of one as a duplicate.</summary>
    private const int RememberedCompleted = 4096;

    private readonly IParameterShard inner;
    private readonly ILogger log;
    private readonly PushMemoryBudget? _budget;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<PushKey, Assembly> _open = [];
    private readonly HashSet<PushKey> _completed = [];
    private readonly Queue<PushKey> _completedOrder = new();
    private long _nextSweep;

    /// <summary>Wraps <paramref name="inner"/>; open pushes are not counted against any budget.</summary>
    public PieceAssemblingShard(IParameterShard inner, ILogger log) : this(inner, log, null) { }

    /// <summary>Wraps <paramref name="inner"/>, reserving each open push's buffer from <paramref name="budget"/>.</summary>
    /// <param name="inner">The shard pushes are handed to whole.</param>
    /// <param name="log">Logs drops and refusals, with worker, step and shard.</param>
    /// <param name="budget">The server's in-flight push memory; null: open pushes are not counted.</param>
    /// <param name="time">Clock of the sweeps (tests pass a manual one); null: the system's.</param>
    public PieceAssemblingShard(IParameterShard inner, ILogger log, PushMemoryBudget? budget, TimeProvider? time = null)
    {
        (this.inner, this.log, _budget, _time) = (inner, log, budget, time ?? TimeProvider.System);
        _nextSweep = _time.GetTimestamp();
    }

    /// <summary>The wrapped shard.</summary>
    public IParameterShard Inner => inner;

    /// <summary>Pushes currently being assembled (for tests and status).</summary>
    public int OpenPushes
    {
        get { lock (_gate) return _open.Count; }
    }

    /// <inheritdoc />
    public ShardInfo Info => inner.Info;

    /// <inheritdoc />
    public RegisterReply Register(RegisterRequest request) => inner.Register(request);

    /// <inheritdoc />
    public Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken) => inner.WaitForStepAsync(workerId, minStep, cancellationToken);

    /// <inheritdoc />
    public Task WaitForPieceAsync(int workerId, long minStep, PieceRange piece, CancellationToken cancellationToken) =>
        inner.WaitForPieceAsync(workerId, minStep, piece, cancellationToken);

    /// <inheritdoc />
    public IReadOnlyList<PieceRange>? ClosingRanges => inner.ClosingRanges;

    /// <inheritdoc />
    public void PullSent(int workerId) => inner.PullSent(workerId);

    /// <inheritdoc />
    public PullResult CopyParameters(Span<float> destination) => inner.CopyParameters(destination);

    /// <inheritdoc />
    public PullResult CopyParameters(int offset, Span<float> destination) => inner.CopyParameters(offset, destination);

    /// <inheritdoc />
    public PullResult CopyForPull(int workerId, long viewVersion, Span<float> destination) => inner.CopyForPull(workerId, viewVersion, destination);

    /// <inheritdoc />
    public bool SharedStepPulls => inner.SharedStepPulls;

    /// <inheritdoc />
    /// <remarks>A piece of a push gathered here takes its whole push's turn (held across its pieces until the push is
    /// handed over whole); on a shard that closes per range, its range's.</remarks>
    public Task<PushTurnLease> WaitForSlotAsync(PushHeader header, CancellationToken cancellationToken) =>
        inner.WaitForSlotAsync(inner.ClosingRanges is null ? header with { Piece = null } : header, cancellationToken);

    /// <inheritdoc />
    public Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken)
    {
        if (inner.ClosingRanges is null && request.PieceLength > 0)
        {
            request = request.Clone();
            (request.PieceOffset, request.PieceLength) = (0, 0);
        }
        return inner.AwaitPushTurnAsync(request, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Also drops, when a sweep is due, open pushes the shard would no longer take.</remarks>
    public HeartbeatReply Heartbeat(HeartbeatRequest request)
    {
        var reply = inner.Heartbeat(request);
        SweepIfDue();
        return reply;
    }

    /// <inheritdoc />
    public StatusReply Status() => inner.Status();

    /// <inheritdoc />
    /// <remarks>A piece is admitted as its whole push would be; a refused one drops what was gathered of that push.</remarks>
    public PushOutcome Admit(in PushHeader header)
    {
        if (inner.ClosingRanges is not null || header.Piece is not { } piece) return inner.Admit(header);
        SweepIfDue();
        piece.Validate((int)Info.Length);
        var outcome = inner.Admit(header with { Piece = null });
        if (!outcome.IsApplied) Drop(PushKey.Of(header), $"the shard refused it: {outcome}");
        return outcome;
    }

    /// <inheritdoc />
    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (header.Piece is null || inner.ClosingRanges is not null) return inner.Push(header, gradientSum);
        if (Gather(header, gradientSum, out var held) is not { } complete) return held;
        try
        {
            return Assembled(header, complete, inner.Push(header with { Piece = null }, complete.Values.Span));
        }
        finally
        {
            complete.Dispose();
        }
    }

    /// <inheritdoc />
    /// <remarks>The whole push goes to the wrapped shard's own <see cref="IParameterShard.PushAsync"/> (a node aggregator answers later).</remarks>
    public async ValueTask<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradientSum, CancellationToken cancellationToken)
    {
        if (header.Piece is null || inner.ClosingRanges is not null) return await inner.PushAsync(header, gradientSum, cancellationToken).ConfigureAwait(false);
        if (Gather(header, gradientSum.Span, out var held) is not { } complete) return held;
        try
        {
            return Assembled(header, complete, await inner.PushAsync(header with { Piece = null }, complete.Values, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            complete.Dispose();
        }
    }

    /// <summary>
    /// Copies one piece into its push; returns the push once it is complete (the caller hands it to the shard and
    /// disposes it), else null with the piece's answer in <paramref name="held"/>.
    /// </summary>
    private Assembly? Gather(in PushHeader header, ReadOnlySpan<float> values, out PushOutcome held)
    {
        var piece = header.Piece!.Value;
        int length = (int)Info.Length;
        piece.Validate(length);
        if (values.Length != piece.Length)
            throw ShardException.Invalid($"piece {piece} carries {values.Length} values, not {piece.Length}");
        var whole = header with { Piece = null };
        var key = PushKey.Of(header);
        held = PushOutcome.Applied(header.Step, closedStep: false, jobFinished: false);
        lock (_gate)
        {
            if (_completed.Contains(key))
            {
                held = PushOutcome.Duplicate(header.Step, $"piece {piece} of a push worker {header.WorkerId} already completed for step {header.Step}");
                return null;
            }
            if (!_open.TryGetValue(key, out var assembly))
            {
                DropOldestIfFull(header.WorkerId);
                assembly = Assembly.Open(whole, length, _budget) ?? throw Busy(header, length);
                _open.Add(key, assembly);
            }
            else if (assembly.Header != whole)
            {
                throw ShardException.Invalid($"piece {piece} has header {whole}, the push's first piece {assembly.Header}");
            }
            if (!assembly.Add(piece, values) || !assembly.IsComplete) return null;   // a retried piece is held already
            _open.Remove(key);
            Remember(key);
            return assembly;
        }
    }

    /// <summary>Under the gate: the refusal of a push whose buffer does not fit in the budget (logged).</summary>
    private ShardException Busy(in PushHeader header, int length)
    {
        long bytes = (long)length * sizeof(float), inUse = _budget!.InUse;
        log.Warning("Shard {Shard} refused worker {WorkerId}'s push of step {Step} in pieces: its {Bytes} bytes do not fit in the in-flight push budget " +
            "({InUse} of {Capacity} bytes held, {Open} pushes in pieces open)", Info.Index, header.WorkerId, header.Step, bytes, inUse, _budget.Capacity, _open.Count);
        return new ShardException(ShardErrorKind.Unavailable,
            $"server busy: pushes in flight and {_open.Count} incomplete pushes in pieces hold {inUse:N0} of the {_budget.Capacity:N0}-byte in-flight push budget " +
            $"(--max-inflight-push-mb) and this push's buffer needs {bytes:N0} bytes more; retry later");
    }

    /// <summary>
    /// Drops the open pushes the shard would no longer take (its own <see cref="IParameterShard.Admit"/> refuses them:
    /// their step closed without them, the job finished, the worker is unknown), at most once per <see cref="SweepInterval"/>.
    /// </summary>
    private void SweepIfDue()
    {
        KeyValuePair<PushKey, PushHeader>[] open;
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_open.Count == 0 || now < _nextSweep) return;
            _nextSweep = now + (long)(SweepInterval.TotalSeconds * _time.TimestampFrequency);
            open = [.. _open.Select(e => KeyValuePair.Create(e.Key, e.Value.Header))];
        }
        foreach (var (key, header) in open)
        {
            string? why;
            try
            {
                var outcome = inner.Admit(header);
                why = outcome.IsApplied ? null : $"the shard no longer takes it: {outcome}";
            }
            catch (ShardException e)
            {
                why = $"the shard no longer takes it: {e.Message}";
            }
            if (why is not null) Drop(key, why);
        }
    }

    private PushOutcome Assembled(in PushHeader header, Assembly complete, PushOutcome outcome)
    {
        log.Debug("Shard {Shard} assembled worker {WorkerId}'s push of step {Step} from {Pieces} pieces: {Outcome}",
            Info.Index, header.WorkerId, header.Step, complete.Pieces, outcome);
        return outcome;
    }

    private void Drop(PushKey key, string why)
    {
        Assembly? dropped;
        lock (_gate)
        {
            if (!_open.Remove(key, out dropped)) return;
        }
        log.Debug("Shard {Shard} dropped the {Received} of {Length} values it held of worker {WorkerId}'s push of step {Step}: {Reason}",
            Info.Index, dropped.Received, dropped.Values.Length, key.WorkerId, key.Step, why);
        dropped.Dispose();
    }

    /// <summary>Under the gate: makes room for one more open push of <paramref name="workerId"/>.</summary>
    private void DropOldestIfFull(int workerId)
    {
        var mine = _open.Where(e => e.Key.WorkerId == workerId).ToList();
        if (mine.Count < MaxOpenPerWorker) return;
        var (oldestKey, oldest) = mine.MinBy(e => e.Key.Step);
        _open.Remove(oldestKey);
        log.Warning("Shard {Shard}: worker {WorkerId} has {Open} pushes open; dropped its oldest (step {Step}, {Received} of {Length} values held)",
            Info.Index, workerId, mine.Count, oldestKey.Step, oldest.Received, oldest.Values.Length);
        oldest.Dispose();
    }

    private void Remember(PushKey key)
    {
        _completed.Add(key);
        _completedOrder.Enqueue(key);
        if (_completedOrder.Count > RememberedCompleted) _completed.Remove(_completedOrder.Dequeue());
    }

    /// <summary>What identifies one push: its pieces share it.</summary>
    private readonly record struct PushKey(int WorkerId, long Step, int? CodeRow, int? Partition)
    {
        public static PushKey Of(in PushHeader header) => new(header.WorkerId, header.Step, header.CodeRow, header.Partition);
    }

    /// <summary>One push being gathered: a pooled buffer (reserved from the budget) and the pieces it holds, kept sorted by offset.</summary>
    private sealed class Assembly : IDisposable
    {
        private readonly PushHeader header;
        private readonly int length;
        private readonly PushMemoryBudget? _budget;
        private float[]? _buffer;
        private readonly List<PieceRange> _held = [];

        private Assembly(PushHeader header, int length, PushMemoryBudget? budget)
        {
            (this.header, this.length, _budget) = (header, length, budget);
            _buffer = ArrayPool<float>.Shared.Rent(length);
        }

        /// <summary>A push of <paramref name="length"/> values, its buffer reserved from <paramref name="budget"/>; null when it does not fit.</summary>
        public static Assembly? Open(PushHeader header, int length, PushMemoryBudget? budget) =>
            budget is null || budget.TryReserve((long)length * sizeof(float)) ? new Assembly(header, length, budget) : null;

        public PushHeader Header => header;

        public int Received { get; private set; }

        public int Pieces => _held.Count;

        public bool IsComplete => Received == length;

        public ReadOnlyMemory<float> Values => _buffer.AsMemory(0, length);

        /// <summary>Copies <paramref name="values"/> in as <paramref name="piece"/>; false when exactly that piece is held already.</summary>
        /// <exception cref="ShardException">InvalidRequest: the piece overlaps a different piece held.</exception>
        public bool Add(PieceRange piece, ReadOnlySpan<float> values)
        {
            int at = _held.BinarySearch(piece, Comparer<PieceRange>.Create((a, b) => a.Offset.CompareTo(b.Offset)));
            if (at >= 0)
            {
                if (_held[at] == piece) return false;
                throw ShardException.Invalid($"piece {piece} overlaps piece {_held[at]} of the same push");
            }
            at = ~at;
            if (at > 0 && _held[at - 1].End > piece.Offset)
                throw ShardException.Invalid($"piece {piece} overlaps piece {_held[at - 1]} of the same push");
            if (at < _held.Count && piece.End > _held[at].Offset)
                throw ShardException.Invalid($"piece {piece} overlaps piece {_held[at]} of the same push");
            values.CopyTo(_buffer.AsSpan(piece.Offset));
            _held.Insert(at, piece);
            Received += piece.Length;
            return true;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _buffer, null) is not { } buffer) return;
            ArrayPool<float>.Shared.Return(buffer);
            _budget?.Release((long)length * sizeof(float));
        }
    }
}
