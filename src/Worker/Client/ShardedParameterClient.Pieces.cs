using GpuPs.Core.Models;
using GpuPs.Core.Scheduling;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Scheduling;

namespace GpuPs.Worker.Client;

/// <summary>Pushes and pulls split into pieces (<see cref="ShardedClientOptions.Pieces"/>).</summary>
public sealed partial class ShardedParameterClient
{
    /// <summary>Re-pulls of a shard's pieces that came back at different steps, before its oldest step is taken.</summary>
    private const int PieceStepRounds = 3;

    private PieceLink[]? _pieceLinks;
    private ClosedRanges[] _closedRanges = [];   // per shard, where the shards close per range
    private bool _wholePulls;
    private bool _perRange;     // the job's shards close per range: each piece's answer speaks for its range only   // compressed pulls: a delta against the worker's copy of the whole shard, not pieces

    /// <summary>Each shard's push and pull schedulers, when pieces are on (after registration); null otherwise.</summary>
    public IReadOnlyList<PieceLink>? PieceLinks => _pieceLinks;

    /// <summary>Whether pushes go in pieces (<see cref="ShardedClientOptions.Pieces"/>): <see cref="PushPieces"/> is not null, without building it.</summary>
    public bool PushesInPieces => _pieceLinks is not null;

    /// <summary>
    /// The pieces a push goes in, as ranges of the whole vector, shard by shard in key order (each shard's in the order it
    /// sends them); null without pieces. A caller computing a push block by block (<see cref="ComputedPrefix"/>) computes
    /// these, in this order.
    /// </summary>
    public IReadOnlyList<PieceRange>? PushPieces => _pieceLinks?.SelectMany((link, i) =>
        link.Plan().Select(p => new PieceRange((int)_layout[i].Offset + p.Range.Offset, p.Range.Length))).ToArray();

    /// <summary>
    /// Builds each shard's piece schedulers for <paramref name="job"/>'s model layers (once; a rejoin keeps them). Pushes
    /// with a compressed encoding (top-k, sign: already a few bytes) and pulls of a job that compresses pulls (deltas
    /// against the worker's copy of the whole shard) stay whole. A job whose shards close per range
    /// (<see cref="ClosingRanges"/>) sets the pieces: this worker sends and pulls exactly the job's ranges, so a range's
    /// pull leaves as soon as the shard applied it, whatever this worker's own <c>--piece-size</c>; unless the worker
    /// sets a credit, it is one range per push link: a range closes when every worker's piece of it is in, so
    /// workers sending one range at a time close ranges one after another from the start of the pushes, where the tuned
    /// credit (at least two pieces) kept two or more ranges open at once (8 workers, 4M parameters, 1 Gbit/s: step
    /// 1.66 s with one range against 1.87 s tuned, both loaded; docs/benchmarks.md). Pulls get two ranges: the pull of
    /// range r + 1 already waits on the shard while range r comes, so it leaves the moment its range closes instead of
    /// one request's round trip later (a waiting pull costs the link nothing).
    /// </summary>
    private void CreatePieceLinks(Core.Training.TrainingJob job)
    {
        if (_pieceLinks is not null) return;
        var pieces = _options.Pieces;
        long pullCredit = 0;
        _perRange = ClosingRanges.ClosePerRange(job);
        if (_perRange)
        {
            if (pieces is { PieceFloats: > 0 } own && own.PieceFloats != job.PieceFloats)
                _log.Warning("Worker {WorkerId}: the job's shards close ranges of {JobPiece} values; pieces of {OwnPiece} (--piece-size) are not used",
                    WorkerId, job.PieceFloats, own.PieceFloats);
            pieces = (pieces ?? new PieceOptions()) with { PieceFloats = job.PieceFloats };
            if (pieces.CreditBytes == 0)
            {
                pieces = pieces with { CreditBytes = (long)job.PieceFloats * sizeof(float) };
                pullCredit = 2 * pieces.CreditBytes;
            }
        }
        if (pieces is null) return;
        _wholePulls = job.Compression.Pull != Core.Compression.CompressionKind.None;
        _closedRanges = [.. _layout.Select(_ => new ClosedRanges())];
        var layerStarts = ModelLayer.Of(job.Model).Select(l => (long)l.Offset).ToArray();
        _pieceLinks = _layout.Select(info => new PieceLink(info, layerStarts, pieces, _log, pullCredit)).ToArray();
        _log.Information("Worker {WorkerId} sends pieces: {Piece} per piece, {Credit} in flight per link",
            WorkerId, pieces.PieceFloats > 0 ? $"{pieces.PieceFloats} values" : "tuned", pieces.CreditBytes > 0 ? $"{pieces.CreditBytes} bytes" : "tuned");
    }

    /// <summary>
    /// Pushes shard <paramref name="i"/>'s slice as pieces through its push scheduler (each piece retried like any call)
    /// and returns the push's answer: the first piece the shard did not take (the rest are then cancelled), else the
    /// answer of the piece that completed the push. When the shard closes per range a piece's answer speaks for its range
    /// only: a Duplicate (applied before, its reply lost, or pushed before a rejoin) counts as done and a Late range does
    /// not stop the others, which still wait for this worker; only Finished or a refusal cancels the rest. The push then
    /// answers Late if any range was, else as if every piece was applied. With <paramref name="computed"/> each piece
    /// waits for its keys to be computed before its turn and its call (holding its credit: pieces are computed in the
    /// order they are sent, so the piece waiting is the next one due).
    /// </summary>
    private async Task<PushOutcome> PushPiecesAsync(int i, PushHeader header, ReadOnlyMemory<float> slice, TensorEncoding encoding, long[] waited, CancellationToken ct,
        ComputedPrefix? computed)
    {
        long shardOffset = _layout[i].Offset;
        var link = _pieceLinks![i];
        int valueBytes = encoding == TensorEncoding.BFloat16 ? sizeof(ushort) : sizeof(float);
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // In a round-robin job each piece takes its turn first (on a shard that closes per range, its range's turn).
        int ahead = _perRange && _options.RangesAhead > 0 ? _options.RangesAhead : int.MaxValue;
        var calls = link.Plan().Select((p, k) => link.Push.RunAsync(p.Layer, header.Step, (long)p.Range.Length * valueBytes, async token =>
        {
            if (computed is not null) await computed.WhenComputedAsync(shardOffset + p.Range.Offset + p.Range.Length, token).ConfigureAwait(false);
            if (ahead < int.MaxValue) await _closedRanges[i].WhenLandedAsync(header.Step, k - ahead, token).ConfigureAwait(false);
            return await TakeTurnAsync(i, header, p.Range, waited, token).ConfigureAwait(false)
                ?? await CallAsync(i, $"push of piece {p.Range} to shard {i} at {_shards[i].Address}",
                    t => _shards[i].Tensors.PushAsync(header with { Piece = p.Range }, slice.Slice(p.Range.Offset, p.Range.Length), t, _options.CallTimeout, encoding), token).ConfigureAwait(false);
        }, siblings.Token)).ToList();
        PushOutcome? answer = null, late = null;
        try
        {
            foreach (var call in calls)
            {
                var outcome = await call.ConfigureAwait(false);
                if (_perRange && outcome.Kind is PushOutcomeKind.Duplicate or PushOutcomeKind.Late)
                {
                    late ??= outcome.Kind == PushOutcomeKind.Late ? outcome : null;
                    continue;
                }
                if (!outcome.IsApplied)
                {
                    siblings.Cancel();
                    return outcome;
                }
                if (answer is not { } best || outcome.ClosedStep && !best.ClosedStep || outcome.Step > best.Step) answer = outcome;
            }
        }
        catch
        {
            siblings.Cancel();
            throw;
        }
        return late ?? answer ?? PushOutcome.Applied(header.Step, closedStep: false, jobFinished: false);
    }

    /// <summary>
    /// Pulls shard <paramref name="i"/>'s slice as pieces, first layer first, into <paramref name="destination"/>; pieces
    /// that came back older than the newest are pulled again at the newest (a shard may step between two pieces) up to
    /// <see cref="PieceStepRounds"/> times — except where the shard closes per range: there an older range waits for this
    /// worker's own push of its step (a worker that rejoined mid-step), so the pieces are kept as they came. Returns the
    /// oldest piece's step.
    /// </summary>
    private async Task<PullResult> PullPiecesAsync(int i, long minStep, Memory<float> destination, CancellationToken ct)
    {
        var link = _pieceLinks![i];
        var pieces = link.Plan();
        if (_perRange) _closedRanges[i].PullStarted(minStep);
        PullResult[] results;
        try
        {
            results = await PullEachAsync(pieces, minStep).ConfigureAwait(false);
        }
        finally
        {
            if (_perRange) _closedRanges[i].PullEnded();
        }
        for (int round = 0; !_perRange && round < PieceStepRounds && results.Any(r => r.Step != results[0].Step) && !results.Any(r => r.Finished); round++)
        {
            long newest = results.Max(r => r.Step);
            var stale = Enumerable.Range(0, pieces.Count).Where(k => results[k].Step < newest).ToArray();
            var again = await PullEachAsync(stale.Select(k => pieces[k]).ToList(), newest).ConfigureAwait(false);
            for (int k = 0; k < stale.Length; k++) results[stale[k]] = again[k];
        }
        var info = _layout[i];
        return new PullResult(results.Min(r => r.Step), info.Index, info.Offset, (int)info.Length, results.Any(r => r.Finished));

        async Task<PullResult[]> PullEachAsync(IReadOnlyList<PlannedPiece> some, long step)
        {
            using var siblings = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var calls = some.Select(p => link.Pull.RunAsync(p.Layer, step, (long)p.Range.Length * sizeof(float), token =>
                _shards[i].Tensors.PullPieceAsync(WorkerId, step, p.Range, destination.Slice(p.Range.Offset, p.Range.Length), (int)_layout[i].Length, token,
                    _options.CallTimeout), siblings.Token)).ToList();
            var pulled = new PullResult[calls.Count];
            try
            {
                // Awaited in order, as the push's pieces: the first failure cancels the pieces still queued. Task.WhenAll
                // waited for every piece to run first (six pieces, two in flight, each failing: all six sent, not four).
                for (int k = 0; k < calls.Count; k++)
                {
                    pulled[k] = await calls[k].ConfigureAwait(false);
                    if (_perRange) _closedRanges[i].Landed(k + 1);
                }
                for (int k = 0; k < pulled.Length; k++) _copies[i].CountInFull(pulled[k], destination.Span.Slice(some[k].Range.Offset, some[k].Range.Length));
                return pulled;
            }
            catch
            {
                siblings.Cancel();
                await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
                throw;
            }
        }
    }
}

/// <summary>
/// One shard's piece links: the push scheduler (worker → shard) and the pull scheduler (shard → worker), each with its own
/// credit and tuner, and the shard's piece plan at the push side's tuned size.
/// </summary>
public sealed class PieceLink
{
    private readonly ShardInfo _info;
    private readonly IReadOnlyList<long> _layerStarts;
    private readonly int _fixedPieceFloats;

    /// <summary>The links to the shard <paramref name="info"/> describes, for a model whose layers start at <paramref name="layerStarts"/>.</summary>
    /// <param name="info">The shard.</param>
    /// <param name="layerStarts">Where the model's layers start in the whole vector.</param>
    /// <param name="options">Piece size and credit (0: tuned).</param>
    /// <param name="log">The tuners' log.</param>
    /// <param name="pullCreditBytes">The pull link's fixed credit when it differs from the push link's; 0: as <paramref name="options"/> say.</param>
    public PieceLink(ShardInfo info, IReadOnlyList<long> layerStarts, PieceOptions options, Serilog.ILogger log, long pullCreditBytes = 0)
    {
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(pullCreditBytes);
        (_info, _layerStarts, _fixedPieceFloats) = (info, layerStarts, options.PieceFloats);
        int pieceBytes = (options.PieceFloats > 0 ? options.PieceFloats : PieceOptions.StartPieceFloats) * sizeof(float);
        long credit = options.CreditBytes > 0 ? options.CreditBytes : 4L * pieceBytes;
        Push = Create($"push to shard {info.Index}", credit);
        Pull = Create($"pull from shard {info.Index}", pullCreditBytes > 0 ? pullCreditBytes : credit);

        PieceScheduler Create(string name, long bytes) =>
            new(bytes, new CreditTuner(pieceBytes, bytes, tunePiece: options.PieceFloats == 0, tuneCredit: options.CreditBytes == 0, name, log));
    }

    /// <summary>Pushes to the shard.</summary>
    public PieceScheduler Push { get; }

    /// <summary>Pulls from the shard.</summary>
    public PieceScheduler Pull { get; }

    /// <summary>Values per piece now: the user's, or the push link's tuned size.</summary>
    public int PieceFloats => _fixedPieceFloats > 0 ? _fixedPieceFloats : Push.Tuner!.PieceBytes / sizeof(float);

    /// <summary>The shard's pieces at the current size, in priority order.</summary>
    public IReadOnlyList<PlannedPiece> Plan() => PiecePlan.Of(_info.Offset, (int)_info.Length, _layerStarts, PieceFloats);
}
