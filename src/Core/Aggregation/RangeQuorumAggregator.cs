using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// BSP closing per key range (P3's per-slice synchronisation, ByteScheduler's per-piece overlap): the shard's model is cut
/// into closing ranges (<see cref="ShardModel.Ranges"/>), one gradient sum per range, and range r of step t is applied as
/// soon as every expected worker pushed its piece of r for t — the other ranges still wait for theirs — so r's pull of
/// step t + 1 can leave while the other ranges' pushes of step t still arrive. The step closes when its last range is
/// applied. Each range sums exactly the pushes whole-push BSP sums and the optimizers are elementwise, so the model is
/// the one <see cref="QuorumAggregator"/> makes (bit for bit when the pushes are added in the same order).
/// </summary>
/// <remarks>
/// <para>A push covers whole ranges: a piece that is one range or several consecutive ones, or the whole shard (a worker
/// that pushes whole tensors, a node aggregator's sum); anything else is malformed. It is admitted only if every range
/// it covers takes it (else the first refusal answers it and nothing is added), so each value is counted exactly once:
/// a repeated piece is Duplicate, a piece of a range that closed without the worker Late.</para>
/// <para>Eviction closes every range that no longer waits for anyone. A worker's clock is the oldest step it has not
/// pushed every range of. The model's step is the oldest range's, so whole pulls, checkpoints and every rule that reads
/// the step see whole steps only.</para>
/// </remarks>
public sealed class RangeQuorumAggregator : IStepAggregator
{
    private readonly ShardModel _model;
    private readonly WorkerSlot[] _workers;
    private readonly long _totalSteps;
    private readonly int _quorum;
    private readonly GradientSum[] _sums;
    private readonly bool[][] _pushed;    // [range][worker]: pushed the range's open step
    private readonly int[] _pushes;       // [range]
    private readonly long[][] _clocks;    // [worker][range]: the range's steps this worker has pushed (its slot's clock, resumed or raised, counts for all)
    private readonly long[] _oldestClock; // [worker]: the least of its _clocks (they only grow)
    private readonly int[] _atOldest;     // [worker]: how many of its ranges are at _oldestClock, so the least is found without a scan per push

    /// <summary>Per-range BSP over <paramref name="model"/>'s ranges: a range closes at <paramref name="quorum"/> pushes or once every expected worker pushed it.</summary>
    public RangeQuorumAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, int quorum)
    {
        (_model, _workers, _totalSteps, _quorum) = (model, workers, totalSteps, quorum);
        int ranges = model.Ranges.Count;
        _sums = [.. model.Ranges.Select(r => new GradientSum(r.Length))];
        _pushed = [.. Enumerable.Range(0, ranges).Select(_ => new bool[workers.Length])];
        _pushes = new int[ranges];
        _clocks = [.. workers.Select(_ => new long[ranges])];
        _oldestClock = new long[workers.Length];
        _atOldest = [.. workers.Select(_ => ranges)];
    }

    /// <inheritdoc />
    public bool IsFinished => _model.Step >= _totalSteps;

    /// <summary>Always 0: no worker reads ahead of the shard's step.</summary>
    public int MaxStalenessSeen => 0;

    /// <inheritdoc />
    public long LatePushesDropped { get; private set; }

    /// <inheritdoc />
    public PushOutcome Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum) =>
        AcceptGroup([worker], header, gradientSum);

    /// <inheritdoc />
    /// <remarks>A node's sum counts as each contributor's piece of every range it covers.</remarks>
    public PushOutcome AcceptGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values)
    {
        var (first, last) = Covered(header, values.Length);
        foreach (var worker in workers)
        {
            var admitted = Admit(worker, header, first, last);
            if (!admitted.IsApplied) return admitted;
        }
        for (int r = first; r <= last; r++) _sums[r].Check(header.SampleCount, header.LossSum);
        int start = _model.Ranges[first].Offset;
        long before = _model.Step;
        for (int r = first; r <= last; r++)
        {
            var range = _model.Ranges[r];
            _sums[r].Add(values.Slice(range.Offset - start, range.Length), header.SampleCount, header.LossSum);
            foreach (var worker in workers)
            {
                _pushed[r][worker.Id] = true;
                RaiseClock(worker.Id, r, header.Step + 1);
            }
            _pushes[r] += workers.Count;
        }
        foreach (var worker in workers) worker.Clock = Math.Max(worker.Clock, _oldestClock[worker.Id]);
        CloseReady(first, last);
        return PushOutcome.Applied(_model.Step, closedStep: _model.Step > before, IsFinished);
    }

    /// <inheritdoc />
    public PushOutcome Admit(WorkerSlot worker, in PushHeader header)
    {
        var (first, last) = Covered(header, header.Piece?.Length ?? _model.Length);
        return Admit(worker, header, first, last);
    }

    /// <summary>Closes every range that no longer waits for anyone; true when that closed the step.</summary>
    public bool OnMembershipChanged()
    {
        long before = _model.Step;
        CloseReady(0, _sums.Length - 1);
        return _model.Step > before;
    }

    /// <summary>True once every range reached step <paramref name="minStep"/> or the job has finished.</summary>
    public bool CanProceed(WorkerSlot worker, long minStep) => _model.Step >= minStep || IsFinished;

    /// <summary>Worker <paramref name="w"/> pushed range <paramref name="r"/> up to <paramref name="clock"/> (never less than before).</summary>
    private void RaiseClock(int w, int r, long clock)
    {
        var clocks = _clocks[w];
        if (clock == clocks[r]) return;
        bool wasOldest = clocks[r] == _oldestClock[w];
        clocks[r] = clock;
        if (wasOldest && --_atOldest[w] == 0)
        {
            _oldestClock[w] = clocks.Min();
            _atOldest[w] = clocks.Count(c => c == _oldestClock[w]);
        }
    }

    /// <summary>
    /// The push's ranges, first and last: it must start where a range starts and end where one ends (binary searches:
    /// a push costs the ranges it covers, not the shard's).
    /// </summary>
    private (int First, int Last) Covered(in PushHeader header, int length)
    {
        var piece = header.Piece ?? new PieceRange(0, _model.Length);
        piece.Validate(_model.Length);
        if (length != piece.Length)
            throw ShardException.Invalid($"push of piece {piece} carries {length} values");
        var ranges = _model.Ranges;
        int first = _model.RangeOf(piece.Offset), last = _model.RangeOf(piece.End - 1);
        if (ranges[first].Offset != piece.Offset || ranges[last].End != piece.End)
            throw ShardException.Invalid($"piece {piece} does not start and end at the shard's closing ranges ({ranges.Count} of about {ranges[0].Length} values, " +
                $"starting {string.Join(", ", ranges.Take(4).Select(r => r.Offset))}…): workers push the job's pieces");
        return (first, last);
    }

    /// <summary>
    /// Admits a push of ranges <paramref name="first"/>..<paramref name="last"/> for the open step of each: Duplicate if
    /// this worker pushed one of them for that step already, Late if one closed without it (counted once), Finished
    /// after the last step, Refused for a step a range has not opened yet.
    /// </summary>
    private PushOutcome Admit(WorkerSlot worker, in PushHeader header, int first, int last)
    {
        for (int r = first; r <= last; r++)
        {
            long open = _model.RangeStep(r);
            if (header.Step < open)
            {
                if (Math.Max(_clocks[worker.Id][r], worker.Clock) > header.Step)
                    return PushOutcome.Duplicate(_model.Step, $"worker {worker.Id} already pushed range {_model.Ranges[r]} of step {header.Step}, which is closed");
                LatePushesDropped++;
                return PushOutcome.Late(_model.Step, $"push for step {header.Step} refused: range {_model.Ranges[r]} closed that step without it, the shard is at step {_model.Step}");
            }
            if (open >= _totalSteps)
                return PushOutcome.Finished(_model.Step, $"push for step {header.Step} refused: the job finished at step {_model.Step}");
            if (header.Step > open)
                return PushOutcome.Refused(_model.Step, $"push for step {header.Step} refused: range {_model.Ranges[r]} is still at step {open}");
            if (_pushed[r][worker.Id])
                return PushOutcome.Duplicate(_model.Step, $"worker {worker.Id} already pushed range {_model.Ranges[r]} of step {header.Step}");
        }
        return PushOutcome.Applied(_model.Step, closedStep: false, jobFinished: false);
    }

    /// <summary>
    /// Closes what is ready among ranges <paramref name="first"/>..<paramref name="last"/>; when that closed the shard's
    /// step, every range held one step ahead (<see cref="TryClose"/>) is tried again. Once is enough: a range that has just
    /// closed the step has no pieces of the next one yet (they were refused while it was open), so the step cannot move
    /// twice in one push.
    /// </summary>
    private void CloseReady(int first, int last)
    {
        long before = _model.Step;
        for (int r = first; r <= last; r++) TryClose(r);
        if (_model.Step > before)
            for (int r = 0; r < _sums.Length; r++) TryClose(r);
    }

    /// <summary>
    /// Applies range <paramref name="r"/>'s update when every expected worker (or the quorum) pushed it, and the range is at
    /// the shard's step: a range one step ahead takes the next step's pieces but closes that step only once the shard's
    /// step has caught up (<see cref="ShardModel.RangeStep"/>: a range is at the shard's step or one ahead, the boundary every
    /// checkpoint reads is saved once, when it first passes; a range two steps ahead made the next checkpoint fail).
    /// </summary>
    private void TryClose(int r)
    {
        if (_sums[r].IsEmpty || _model.RangeStep(r) >= _totalSteps || _model.RangeStep(r) > _model.Step) return;
        if (_pushes[r] < _quorum)
            foreach (var w in _workers)
                if (w.Expected && !_pushed[r][w.Id]) return;
        _sums[r].ApplyTo(_model, r);
        Array.Clear(_pushed[r]);
        _pushes[r] = 0;
    }
}
