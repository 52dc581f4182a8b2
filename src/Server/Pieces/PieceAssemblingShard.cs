using System.Buffers;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
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
/// <para><b>Memory.</b> An open push holds one pooled shard-sized buffer. A worker has at most
/// <see cref="MaxOpenPerWorker"/> open; opening one more drops its oldest (logged): a worker that gave a step up (its
/// step closed without it) never completes that push. A push the shard refuses on admission (late, finished) is dropped
/// at once.</para>
/// Thread-safe.
/// </remarks>
public sealed class PieceAssemblingShard(IParameterShard inner, ILogger log) : IParameterShard
{
    /// <summary>Open (incomplete) pushes one worker may have at a time: 4, so a push of step t and prefetched steps beside it.</summary>
    public const int MaxOpenPerWorker = 4;

    /// <summary>Completed pushes remembered, to answer a repeated piece of one as a duplicate.</summary>
    private const int RememberedCompleted = 4096;

    private readonly object _gate = new();
    private readonly Dictionary<PushKey, Assembly> _open = [];
    private readonly HashSet<PushKey> _completed = [];
    private readonly Queue<PushKey> _completedOrder = new();

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
    public void PullSent(int workerId) => inner.PullSent(workerId);

    /// <inheritdoc />
    public PullResult CopyParameters(Span<float> destination) => inner.CopyParameters(destination);

    /// <inheritdoc />
    public PullResult CopyParameters(int offset, Span<float> destination) => inner.CopyParameters(offset, destination);

    /// <inheritdoc />
    public PullResult CopyForPull(int workerId, long viewVersion, Span<float> destination) => inner.CopyForPull(workerId, viewVersion, destination);

    /// <inheritdoc />
    public TimeSpan SlotWait(in PushHeader header) => inner.SlotWait(header with { Piece = null });

    /// <inheritdoc />
    public Task WaitForSlotAsync(PushHeader header, CancellationToken cancellationToken) => inner.WaitForSlotAsync(header with { Piece = null }, cancellationToken);

    /// <inheritdoc />
    public HeartbeatReply Heartbeat(HeartbeatRequest request) => inner.Heartbeat(request);

    /// <inheritdoc />
    public StatusReply Status() => inner.Status();

    /// <inheritdoc />
    /// <remarks>A piece is admitted as its whole push would be; a refused one drops what was gathered of that push.</remarks>
    public PushOutcome Admit(in PushHeader header)
    {
        if (header.Piece is not { } piece) return inner.Admit(header);
        piece.Validate((int)Info.Length);
        var outcome = inner.Admit(header with { Piece = null });
        if (!outcome.IsApplied) Drop(PushKey.Of(header), $"the shard refused it: {outcome}");
        return outcome;
    }

    /// <inheritdoc />
    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (header.Piece is null) return inner.Push(header, gradientSum);
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
        if (header.Piece is null) return await inner.PushAsync(header, gradientSum, cancellationToken).ConfigureAwait(false);
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
                assembly = new Assembly(whole, length);
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

    /// <summary>One push being gathered: a pooled buffer and the pieces it holds, kept sorted by offset.</summary>
    private sealed class Assembly(PushHeader header, int length) : IDisposable
    {
        private float[]? _buffer = ArrayPool<float>.Shared.Rent(length);
        private readonly List<PieceRange> _held = [];

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
            if (Interlocked.Exchange(ref _buffer, null) is { } buffer) ArrayPool<float>.Shared.Return(buffer);
        }
    }
}
