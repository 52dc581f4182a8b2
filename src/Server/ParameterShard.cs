using System.Security.Cryptography;
using System.Text;
using GpuPs.Core.Aggregation;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Server.Observers;
using Serilog;
using Serilog.Events;

namespace GpuPs.Server;

/// <summary>
/// One parameter shard: membership, liveness, the aggregation rule of the job's mode (made by its
/// <see cref="ISyncMode"/>), the optimizer, and the observers that hear what happens.
/// Thread-safe; every request takes one lock, held for the SIMD sum of one pushed gradient at most.
/// A push the mode's rule refuses is answered with a <see cref="PushOutcome"/>; a malformed request throws
/// <see cref="ShardException"/>. Neither changes the parameters or the counters of accepted work. No transport here.
/// </summary>
public sealed class ParameterShard : IParameterShard, IDisposable
{
    private const int KeptStepTimes = 10_000;

    /// <summary>The worker id of a pull that only observes (evaluation, monitoring): it waits for the shard's step alone.</summary>
    public const int ObserverId = -1;
    private readonly object _gate = new();
    private readonly TrainingJob _job;
    private readonly JobSpec _wireJob;   // what registration and status replies carry
    private readonly string _fingerprint;   // of the job, in every checkpoint
    private readonly ShardModel _model;
    private readonly WorkerSlot[] _workers;
    private readonly ISyncMode _mode;
    private readonly IStepAggregator _aggregator;
    private readonly IShardObserver[] _observers;
    private readonly PushCoordinator? _coordinator;   // shard 0 of a round-robin job
    private readonly PushTurns? _turns;               // every shard of a round-robin job
    private readonly AssignmentCoordinator? _assignments;   // shard 0 of a proportional job
    private readonly Compression.PullViews? _pullViews;   // a job with compressed pulls
    private readonly ulong _startHash;                     // compressed pulls: SharedStart.Hash of the initial values
    private readonly bool _resumed;                        // started from a checkpoint, not from the initial values
    private readonly RelayedAssignment? _relayed;          // the other shards of a coded proportional job
    private readonly StepSignal _signal = new();
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ITimer _livenessTimer;
    private readonly Queue<(double Seconds, double Loss, double UpdateSeconds)> _steps = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _pushesApplied, _pushesRejected, _bytesReceived, _stepOpenedAt;
    private bool _disposed;

    /// <summary>
    /// A shard at step 0 with a copy of <c>options.InitialParameters</c>; it evicts silent workers from now on, on
    /// <c>options.Time</c>'s clock, until disposed.
    /// </summary>
    /// <param name="options">Job, key range, optimizer, initial values, clock and observers.</param>
    /// <param name="backend">Makes the optimizer (on the CPU or an accelerator).</param>
    /// <param name="log">Receives the shard's events, tagged with its index.</param>
    /// <exception cref="ArgumentException">An invalid job, or initial values not of the shard's length.</exception>
    public ParameterShard(ShardOptions options, IComputeBackend backend, ILogger log)
    {
        options.Job.Validate();
        if (options.InitialParameters.Length != options.Shard.Length)
            throw new ArgumentException($"shard {options.Shard.Index} owns {options.Shard.Length} parameters, initial values have {options.InitialParameters.Length}");
        _job = options.Job;
        _wireJob = JobSpecWire.ToWire(_job);
        _fingerprint = JobFingerprints.Of(_job);
        Info = options.Shard;
        _log = log.ForContext("Shard", Info.Index);
        ClosingRanges = Core.Scheduling.ClosingRanges.Of(_job, Info);
        _model = new ShardModel((float[])options.InitialParameters.Clone(), ClosingRanges,
            length => backend.CreateOptimizer(options.Optimizer, length), _log);
        _workers = Enumerable.Range(0, _job.Workers).Select(i => new WorkerSlot(i)).ToArray();
        _mode = _job.Mode;
        _aggregator = _mode.CreateAggregator(_model, _workers, _job, _log);
        _assignments = _job.Assignment.BySpeed() && Info.Index == 0 ? new AssignmentCoordinator(_job, _log) : null;
        _relayed = _job.Assignment.BySpeed() && Info.Index > 0 ? new RelayedAssignment(_job, _log) : null;
        _pullViews = _job.Compression.Pull == Core.Compression.CompressionKind.None ? null : new Compression.PullViews(_job.Workers, _job.Compression);
        if (_pullViews is not null) _startHash = Core.Compression.SharedStart.Hash(options.InitialParameters);
        _time = options.Time ?? TimeProvider.System;
        if (Info.Index == 0 && _job.Schedule == PushSchedule.RoundRobin)
            _coordinator = new PushCoordinator(_job.Workers, _job.PushConcurrency, _time, _log,
                pullScale: _job.WireFormat == TensorEncoding.BFloat16 ? 2 : 1);
        if (_job.Schedule == PushSchedule.RoundRobin)
            _turns = new PushTurns(_job.Workers, ClosingRanges?.Count ?? 1, _job.PushConcurrency, _time, perPush: !_mode.IsStepSynchronous);
        _observers = [.. options.Observers ?? [], .. _coordinator is null ? Array.Empty<IShardObserver>() : [_coordinator],
            .. _turns is null ? Array.Empty<IShardObserver>() : [_turns]];
        _stepOpenedAt = _time.GetTimestamp();
        if (options.Resume is { } checkpoint) ResumeFrom(checkpoint);
        _resumed = options.Resume is not null;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_job.HeartbeatTimeoutMs / 4, 50, 1000));
        _livenessTimer = _time.CreateTimer(_ => EvictSilentWorkers(), null, period, period);
    }

    /// <summary>
    /// Shard <paramref name="index"/> of <paramref name="count"/> of <paramref name="job"/> (key ranges by
    /// <see cref="ShardLayout"/>), starting from the job's seeded initial parameters.
    /// </summary>
    public static ParameterShard Create(TrainingJob job, OptimizerSettings optimizer, int index, int count, IComputeBackend backend, ILogger log,
        IReadOnlyList<IShardObserver>? observers = null, ShardCheckpoint? resume = null)
    {
        if (index < 0 || index >= count) throw new ArgumentException($"shard index {index} is out of range 0..{count - 1}");
        var info = ShardLayout.Compute(job.ParameterCount, count)[index];
        return new ParameterShard(new ShardOptions(job, info, optimizer, JobBuilder.InitialParameters(job, info), Observers: observers, Resume: resume),
            backend, log);
    }

    /// <summary>
    /// A consistent copy of the shard's state at its current step, for <see cref="CheckpointStore"/>: parameters, optimizer
    /// state and worker clocks, taken under the lock (a memcpy of the shard and the optimizer's slots).
    /// </summary>
    /// <remarks>
    /// A shard that closes per range may be between two steps (some ranges of step t + 1 applied, others waiting for
    /// pushes that may never come when the cluster stops): it saves the boundary of its step t as the model kept it
    /// (<see cref="ShardModel.ExportBoundary"/>), with every worker's clock at most t, since what a worker pushed past t
    /// is not in it. It never waits.
    /// </remarks>
    public ShardCheckpoint Checkpoint()
    {
        lock (_gate)
        {
            var (parameters, optimizer) = _model.ExportBoundary();
            long step = _model.Step;
            bool ranges = _model.Ranges.Count > 1;
            return new ShardCheckpoint(_fingerprint, Info.Index, Info.Count, Info.Offset, step,
                parameters, optimizer, _workers.Select(w => ranges ? Math.Min(w.Clock, step) : w.Clock).ToArray());
        }
    }

    /// <summary>Restores the state of <paramref name="checkpoint"/> (construction only: no worker is registered yet).</summary>
    private void ResumeFrom(ShardCheckpoint checkpoint)
    {
        if (checkpoint.JobFingerprint != _fingerprint)
            throw new ArgumentException($"the checkpoint belongs to another job ({checkpoint.JobFingerprint}, this job is {_fingerprint})");
        if (checkpoint.Shard != Info.Index || checkpoint.Shards != Info.Count || checkpoint.Offset != Info.Offset)
            throw new ArgumentException($"the checkpoint is of shard {checkpoint.Shard} of {checkpoint.Shards}, this is shard {Info.Index} of {Info.Count}");
        if (checkpoint.WorkerClocks.Length != _workers.Length)
            throw new ArgumentException($"the checkpoint has {checkpoint.WorkerClocks.Length} worker clocks, the job {_workers.Length} workers");
        _model.Resume(checkpoint.Step, checkpoint.Parameters, checkpoint.Optimizer);
        for (int i = 0; i < _workers.Length; i++) _workers[i].Clock = checkpoint.WorkerClocks[i];
        _log.Information("Shard {Shard} resumed at step {Step} from a checkpoint", Info.Index, checkpoint.Step);
    }

    /// <inheritdoc />
    public ShardInfo Info { get; }

    /// <summary>The push turns on this shard's link (a round-robin job; by round in ASP and SSP); null otherwise.</summary>
    public PushTurns? Turns => _turns;

    /// <summary>Completes when the job has run all its steps on this shard.</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Admits a worker. Without a requested id it gets the slot its client token already holds (a retried Register whose
    /// reply was lost), else the first slot never registered. A requested id is granted when that slot was never
    /// registered, when it was evicted (a restarted worker replaces the silent one), or when the same non-empty client
    /// token holds it; a live slot of another client is refused (SlotTaken), so no client can take over a live worker.
    /// A host, device or client token longer than <see cref="MaxRegisterText"/> characters or with a control character is
    /// refused (InvalidRequest) before any slot is looked at.
    /// </summary>
    public RegisterReply Register(RegisterRequest request)
    {
        CheckRegisterText("host", request.Host);
        CheckRegisterText("device", request.Device);
        CheckRegisterText("client token", request.ClientToken);
        lock (_gate)
        {
            WorkerSlot slot;
            if (request.RequestedWorkerId >= 0)
            {
                if (request.RequestedWorkerId >= _workers.Length)
                    throw ShardException.Invalid($"worker id {request.RequestedWorkerId} is out of range: the job has {_workers.Length} workers (ids 0..{_workers.Length - 1})");
                slot = _workers[request.RequestedWorkerId];
                if (slot.Registered && !slot.Evicted && !HeldBy(slot, request.ClientToken))
                    throw new ShardException(ShardErrorKind.SlotTaken,
                        $"worker {slot.Id} is held by another live client; its slot frees up once that client has been silent for {_job.HeartbeatTimeoutMs} ms and is evicted");
            }
            else
            {
                // A retried Register (its reply was lost) must not take a second slot.
                slot = _workers.FirstOrDefault(w => w.Registered && HeldBy(w, request.ClientToken))
                    ?? _workers.FirstOrDefault(w => !w.Registered)
                    ?? throw new ShardException(ShardErrorKind.JobFull,
                        $"the job already has all {_workers.Length} workers registered; a restarted worker rejoins under its old id (--worker-id), which frees up once the old one has been silent for {_job.HeartbeatTimeoutMs} ms and is evicted");
            }
            bool rejoin = slot.Registered;
            slot.Registered = true;
            slot.Host = request.Host;
            slot.Device = request.Device;
            slot.ClientToken = request.ClientToken;
            Touch(slot);
            _log.Information("Worker {WorkerId} {Action} from {Host} on {Device} at step {Step}",
                slot.Id, rejoin ? "rejoined" : "registered", request.Host, request.Device, ResumeStep(slot));
            Notify(new MembershipChange(Info.Index, slot.Id, rejoin ? MembershipEvent.Rejoined : MembershipEvent.Registered, _model.Step));
            var reply = new RegisterReply { WorkerId = slot.Id, Job = _wireJob, Shard = Info, Step = ResumeStep(slot) };
            OfferStart(slot, reply);
            return reply;
        }
    }

    /// <summary>
    /// Compressed pulls: while the shard holds its start (no step closed and not resumed from a checkpoint), records the
    /// worker's copy as that start, so its first pull is a delta (proto <c>RegisterReply.start_view_version</c>). Once a
    /// step closed (a late join, a rejoin after eviction) or on a shard resumed from a checkpoint there is no offer: the
    /// worker pulls in full.
    /// </summary>
    /// <remarks>
    /// Step 0 and not resumed is enough to know the parameters are the initial values, without hashing the shard under
    /// the lock at every registration: the parameters change only in <see cref="ShardModel.ApplySum"/>, which advances
    /// the step whether or not it updates, and in <see cref="ShardModel.Resume"/>, at construction. (Per-range closing,
    /// which changes a range before the step advances, is never on with compressed pulls: their deltas are of the
    /// whole shard.)
    /// </remarks>
    private void OfferStart(WorkerSlot slot, RegisterReply reply)
    {
        if (_pullViews is null || _model.Step != 0 || _resumed || _aggregator.IsFinished) return;
        reply.StartViewVersion = _pullViews.Start(slot.Id, _model.Parameters);
        reply.StartViewHash = _startHash;
    }

    /// <inheritdoc />
    /// <remarks><see cref="ObserverId"/> waits for the shard's step alone and is not a worker.</remarks>
    /// <remarks>The coordinator of a round-robin job answers a worker's pull of the step just opened at the worker's turn.</remarks>
    public async Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken)
    {
        // A pull refused a turn is marked waiting (it holds back the workers ranked after it); whichever way this ends
        // without a turn — the step moved on, the job finished, cancelled, an error — the mark goes.
        bool waitingForTurn = false;
        try
        {
            while (true)
            {
                Task next;
                Task? turnFreed = null;
                var recheck = TimeSpan.Zero;
                lock (_gate)
                {
                    if (workerId == ObserverId)
                    {
                        if (_model.Step >= minStep || _aggregator.IsFinished) return;
                    }
                    else
                    {
                        var slot = Known(workerId);
                        Touch(slot);
                        if (_aggregator.CanProceed(slot, minStep))
                        {
                            if (_coordinator is null || !_mode.IsStepSynchronous || minStep != _model.Step || _aggregator.IsFinished) return;
                            waitingForTurn = !_coordinator.Pulls.TryBegin(workerId, out var freed, out recheck);
                            if (!waitingForTurn) return;
                            turnFreed = freed;
                        }
                    }
                    next = _signal.Next;
                }
                if (turnFreed is null)
                {
                    await next.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                // Waiting for a pull turn: woken when one frees, the step changes, or the oldest turn expires.
                await Task.WhenAny(turnFreed, next, Task.Delay(recheck, _time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (waitingForTurn) _coordinator!.Pulls.GiveUp(workerId);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<PieceRange>? ClosingRanges { get; }

    /// <inheritdoc />
    /// <remarks>On a shard that closes per range a piece's pull takes no round-robin pull turn: ranges close one by one,
    /// which spreads the pulls already, and the worker's credit bounds its bytes in flight.</remarks>
    public async Task WaitForPieceAsync(int workerId, long minStep, PieceRange piece, CancellationToken cancellationToken)
    {
        if (ClosingRanges is null)
        {
            await WaitForStepAsync(workerId, minStep, cancellationToken).ConfigureAwait(false);
            return;
        }
        piece.Validate(_model.Length);
        while (true)
        {
            Task next;
            lock (_gate)
            {
                if (workerId != ObserverId) Touch(Known(workerId));
                if (PieceStep(piece) >= minStep || _aggregator.IsFinished) return;
                next = _signal.Next;
            }
            await next.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Under the lock: the step of the values of <paramref name="piece"/>, the oldest of the ranges it overlaps (the shard's step without ranges).</summary>
    private long PieceStep(PieceRange piece)
    {
        if (ClosingRanges is null) return _model.Step;
        long step = long.MaxValue;
        for (int r = _model.RangeOf(piece.Offset), last = _model.RangeOf(piece.End - 1); r <= last; r++) step = Math.Min(step, _model.RangeStep(r));
        return step;
    }

    /// <summary>
    /// A pull of <paramref name="workerId"/>'s has been handed to the socket (or failed after its wait): in a round-robin
    /// job the coordinator starts the next worker's pull (<see cref="Coordination.PullTurns"/>). Edges call it once per
    /// pull that passed <see cref="WaitForStepAsync"/>.
    /// </summary>
    public void PullSent(int workerId)
    {
        if (_coordinator is not null && workerId >= 0 && workerId < _workers.Length) _coordinator.Pulls.End(workerId);
    }

    /// <inheritdoc />
    public PullResult CopyParameters(Span<float> destination)
    {
        lock (_gate)
        {
            if (destination.Length != _model.Length)
                throw ShardException.Invalid($"pull destination has {destination.Length} floats, shard {Info.Index} has {_model.Length}");
            _model.Parameters.CopyTo(destination);
            return new PullResult(_model.Step, Info.Index, Info.Offset, _model.Length, _aggregator.IsFinished);
        }
    }

    /// <inheritdoc />
    /// <remarks>An observer's pull (<see cref="ObserverId"/>) always gets the parameters in full.</remarks>
    public PullResult CopyForPull(int workerId, long viewVersion, Span<float> destination)
    {
        if (_pullViews is null || workerId < 0 || workerId >= _workers.Length) return CopyParameters(destination);
        lock (_gate)
        {
            if (destination.Length != _model.Length)
                throw ShardException.Invalid($"pull destination has {destination.Length} floats, shard {Info.Index} has {_model.Length}");
            var (version, encoding) = _pullViews.Serve(workerId, viewVersion, _model.Parameters, _aggregator.IsFinished, destination);
            return new PullResult(_model.Step, Info.Index, Info.Offset, _model.Length, _aggregator.IsFinished, version, encoding);
        }
    }

    /// <inheritdoc />
    /// <remarks>Step-synchronous modes without compressed pulls or a round-robin coordinator.</remarks>
    public bool SharedStepPulls => _mode.IsStepSynchronous && _pullViews is null && _coordinator is null;

    /// <inheritdoc />
    public PullResult CopyParameters(int offset, Span<float> destination)
    {
        new PieceRange(offset, destination.Length).Validate(_model.Length);
        lock (_gate)
        {
            _model.Parameters.Slice(offset, destination.Length).CopyTo(destination);
            return new PullResult(PieceStep(new PieceRange(offset, destination.Length)), Info.Index, Info.Offset + offset, destination.Length, _aggregator.IsFinished);
        }
    }

    /// <inheritdoc />
    public PushOutcome Admit(in PushHeader header)
    {
        try
        {
            ValidateHeader(header);
            PushOutcome outcome;
            lock (_gate)
            {
                outcome = _aggregator.Admit(Known(header.WorkerId), header);
                if (!outcome.IsApplied) NoteRefusal(header, outcome);
            }
            return outcome;   // a refused push's edge ends the turn it went under (PushTurnLease)
        }
        catch (ShardException e)
        {
            NoteMalformed(header, e);
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>A node aggregator's push speaks for several workers and takes no turn; neither does a push this shard
    /// would refuse anyway (an unknown worker, a closed step, a malformed piece): it is answered as usual. A push whose
    /// turn was granted before its first byte (asked for with <see cref="AwaitPushTurnAsync"/>) goes on under exactly
    /// that turn; on a shard that closes per range, a push whose piece the edge reads only with its values goes on under
    /// its worker's oldest unsent turn of the step and partition.</remarks>
    public async Task<PushTurnLease> WaitForSlotAsync(PushHeader header, CancellationToken cancellationToken)
    {
        if (_turns is null || header.Contributors is not null || !IsTurnOf(header)) return PushTurnLease.None;
        if (_turns.Claim(KeyOf(header), anyUnit: header.Piece is null && ClosingRanges is not null) is { } claimed) return claimed;
        var (granted, _, _, turn) = await TakeTurnAsync(header.WorkerId, header.Step, header.Piece, TurnPartition(header.Partition), order: -1, sending: true, cancellationToken).ConfigureAwait(false);
        return granted ? _turns.Lease(turn) : PushTurnLease.None;
    }

    /// <inheritdoc />
    /// <exception cref="ShardException">The worker is not registered, or the piece is no range of the shard.</exception>
    public async Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken)
    {
        lock (_gate) Touch(Known(request.WorkerId));
        if (request.PieceLength > 0 && request.PieceOffset is < 0 or > int.MaxValue)
            throw ShardException.Invalid($"piece offset {request.PieceOffset} is outside the shard's {_model.Length} parameters");
        PieceRange? piece = request.PieceLength > 0 ? new PieceRange((int)request.PieceOffset, request.PieceLength) : null;
        piece?.Validate(_model.Length);
        if (_turns is null) return new PushTurnReply { Granted = true, Step = request.Step };
        long start = _time.GetTimestamp();
        var (granted, finished, step, _) = await TakeTurnAsync(request.WorkerId, request.Step, piece, TurnPartition(request.Partition), request.Order, sending: false, cancellationToken).ConfigureAwait(false);
        return new PushTurnReply
        {
            Granted = granted, Closed = !granted, Finished = finished, Step = step, WaitedUs = (long)_time.GetElapsedTime(start).TotalMicroseconds,
        };
    }

    /// <summary>
    /// Waits for <paramref name="workerId"/>'s push turn (<see cref="PushTurns"/>) for <paramref name="step"/>, the unit
    /// of <paramref name="piece"/> and <paramref name="partition"/>: true once granted, with the turn's id; false when
    /// the step (the piece's range) closed without it, the job finished (Finished), or the worker is not registered, and
    /// with the shard's step (the range's). <paramref name="piece"/> lies within the shard: both callers check it first.
    /// With per-push updates (ASP, SSP) the step is the worker's own clock: false, with the clock, when the shard has
    /// that push already (a retry) or the worker is at another step (the push would be refused anyway); Finished when the
    /// worker ran all its steps; and a push the staleness bound refuses now waits, as for a step not open yet, until the
    /// slowest worker's push lets it go, so that its turn never passes the worker SSP waits for.
    /// </summary>
    private async Task<(bool Granted, bool Finished, long Step, long Turn)> TakeTurnAsync(int workerId, long step, PieceRange? piece, int partition, int order, bool sending, CancellationToken cancellationToken)
    {
        long ticket = 0;
        bool waiting = false;
        try
        {
            while (true)
            {
                Task changed, next;
                TimeSpan recheck;
                lock (_gate)
                {
                    if (workerId < 0 || workerId >= _workers.Length || !_workers[workerId].Registered) return (false, false, _model.Step, 0);
                    int unit = UnitOf(piece);
                    long at = !_mode.IsStepSynchronous ? _workers[workerId].Clock : ClosingRanges is null ? _model.Step : _model.RangeStep(unit);
                    if (_aggregator.IsFinished) return (false, true, at, 0);
                    if (at > step || at < step && !_mode.IsStepSynchronous) return (false, false, at, 0);
                    // Per-push updates: the aggregator's answer to this push now (the worker's next, at its clock).
                    PushOutcome? admitted = _mode.IsStepSynchronous ? null : _aggregator.Admit(_workers[workerId], new PushHeader(workerId, step, Info.Index, 0, 0));
                    if (admitted?.Kind == PushOutcomeKind.Finished) return (false, true, at, 0);
                    next = _signal.Next;
                    if (at < step || admitted is { IsApplied: false })
                    {
                        (changed, recheck) = (next, Timeout.InfiniteTimeSpan);   // a step not open yet, or too stale to push yet: wait for it
                    }
                    else
                    {
                        if (_turns!.TryBegin(new TurnKey(workerId, step, unit, partition), order, sending, ref ticket, out changed, out recheck) == TurnAnswer.Granted)
                        {
                            waiting = false;
                            if (_log.IsEnabled(LogEventLevel.Verbose))
                                _log.Verbose("Shard {Shard} push turn of step {Step}, unit {Unit}, partition {Partition} to worker {WorkerId}: {InFlight} of {Concurrency} in flight",
                                    Info.Index, step, unit, partition, workerId, _turns.InFlight, _job.PushConcurrency);
                            return (true, false, at, ticket);
                        }
                        waiting = true;
                    }
                }
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                await Task.WhenAny(changed, next, Task.Delay(recheck, _time, wake.Token)).ConfigureAwait(false);
                wake.Cancel();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (waiting) _turns!.GiveUp(ticket);
        }
    }

    /// <summary>The turn unit of a push: its piece's range on a shard that closes per range, else 0 (the whole push).</summary>
    private int UnitOf(PieceRange? piece) => ClosingRanges is not null && piece is { } p ? _model.RangeOf(p.Offset) : 0;

    /// <summary>Whether a push with <paramref name="header"/> is one a turn is kept for: a known worker's, any piece within the shard.</summary>
    private bool IsTurnOf(in PushHeader header) =>
        header.WorkerId >= 0 && header.WorkerId < _workers.Length
        && (header.Piece is not { } p || p.IsWithin(_model.Length));

    /// <summary>The turn of the push with <paramref name="header"/>.</summary>
    private TurnKey KeyOf(in PushHeader header) => new(header.WorkerId, header.Step, UnitOf(header.Piece), TurnPartition(header.Partition));

    /// <summary>A push's partition in its turn's key: its own in a mode that pushes per partition, else -1 (a request's unset field reads 0).</summary>
    private int TurnPartition(int? partition) => _mode.Mode == SyncMode.MultiMessage && partition is int p and >= 0 ? p : -1;

    /// <summary>The shard has (or refused) a push: exactly its turn on the link frees.</summary>
    private void EndTurn(in PushHeader header)
    {
        if (_turns is null || header.Contributors is not null || !IsTurnOf(header)) return;
        _turns.Complete(KeyOf(header));
    }

    /// <inheritdoc />
    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        EndTurn(header);   // every byte of the push is here: the link is free for the next turn
        try
        {
            Validate(header, gradientSum);
            lock (_gate)
            {
                var slot = Known(header.WorkerId);
                Touch(slot);
                long accepting = _time.GetTimestamp(), rangesClosed = _model.RangesClosed;
                var outcome = header.Contributors is { } contributors
                    ? _aggregator.AcceptGroup(KnownGroup(header.WorkerId, contributors), header, gradientSum)
                    : _aggregator.Accept(slot, header, gradientSum);
                if (!outcome.IsApplied)
                {
                    NoteRefusal(header, outcome);
                    return outcome;
                }
                _pushesApplied++;
                _bytesReceived += (long)gradientSum.Length * sizeof(float);
                if (outcome.ClosedStep)
                {
                    var update = _time.GetElapsedTime(accepting);
                    var step = RecordStepTime(update);
                    _log.Debug("Shard {Shard} at step {Step} after push of worker {WorkerId}, loss {Loss:F4}; the step took {StepMs:F3} ms, its closing push's sum, decode and update {UpdateMs:F3} ms",
                        Info.Index, _model.Step, header.WorkerId, _model.LastMeanLoss, step.TotalMilliseconds, update.TotalMilliseconds);
                    _signal.Pulse();
                }
                else if (_model.RangesClosed != rangesClosed)
                {
                    // A range closed: its piece pulls may go while the step waits for the other ranges' pieces.
                    _log.Debug("Shard {Shard} applied {Ranges} range(s) of step {Step} after worker {WorkerId}'s piece {Piece}; the step waits for its other ranges",
                        Info.Index, _model.RangesClosed - rangesClosed, header.Step, header.WorkerId, header.Piece);
                    _signal.Pulse();
                }
                return outcome;
            }
        }
        catch (ShardException e)
        {
            NoteMalformed(header, e);
            throw;
        }
    }

    /// <summary>Counts and logs a push the mode's rule refused (under the lock).</summary>
    private void NoteRefusal(in PushHeader header, in PushOutcome outcome)
    {
        Interlocked.Increment(ref _pushesRejected);
        // A straggler's late push is routine in the coded, multi-message and backup modes, and so is a push that meets
        // the end of the job; anything else is a client bug.
        bool routine = outcome.Kind is PushOutcomeKind.Late or PushOutcomeKind.Finished;
        _log.Write(routine ? LogEventLevel.Debug : LogEventLevel.Warning, "Refused push of worker {WorkerId} for step {Step} on shard {Shard}: {Reason}",
            header.WorkerId, header.Step, Info.Index, outcome.Reason);
        var (h, r) = (header, outcome);
        Notify(o => o.OnPushRefused(h, r));
    }

    /// <summary>Counts, logs and reports a malformed push (outside or inside the lock).</summary>
    private void NoteMalformed(in PushHeader header, ShardException e)
    {
        lock (_gate) NoteRefusal(header, PushOutcome.Refused(_model.Step, e.Message));
    }

    /// <inheritdoc />
    public HeartbeatReply Heartbeat(HeartbeatRequest request)
    {
        lock (_gate)
        {
            Touch(Known(request.WorkerId));
            var reply = new HeartbeatReply { Step = _model.Step, Finished = _aggregator.IsFinished };
            if (_coordinator is not null) reply.PushSlot = _coordinator.Report(request);
            if (_assignments is not null)
            {
                if (_assignments.Report(request.WorkerId, request.RowsPerSecond, request.ExchangeSeconds, _model.Step,
                        new StepShape(request.ShareRows, request.StepRows, request.FixedSeconds)) is { } code)
                    _aggregator.UseAssignment(code);
                if (_assignments.Current is { } assignment) reply.Assignment = AssignmentWire.ToWire(assignment);
            }
            if (request.RelayedAssignment is { } relayed)
            {
                if (_relayed is null)
                    throw ShardException.Invalid($"worker {request.WorkerId} relayed an assignment to shard {Info.Index}, which takes none (only shards 1.. of a proportional job do)");
                if (_relayed.Adopt(request.WorkerId, relayed, _model.Step) is { } adopted) _aggregator.UseAssignment(adopted);
            }
            return reply;
        }
    }

    /// <inheritdoc />
    public StatusReply Status()
    {
        lock (_gate)
        {
            var reply = new StatusReply
            {
                Step = _model.Step,
                LiveWorkers = _workers.Count(w => w.Registered && !w.Evicted),
                RegisteredWorkers = _workers.Count(w => w.Registered),
                PushesApplied = _pushesApplied,
                PushesRejected = Interlocked.Read(ref _pushesRejected),
                BytesReceived = _bytesReceived,
                Finished = _aggregator.IsFinished,
                Shard = Info,
                Job = _wireJob,
                MeanLoss = _model.LastMeanLoss,
                MaxStalenessSeen = _aggregator.MaxStalenessSeen,
                PushesDroppedLate = _aggregator.LatePushesDropped,
                UpdatesSkipped = _model.UpdatesSkipped,
                PushTurnsPeak = _turns?.Peak ?? 0,
                PushTurnsGranted = _turns?.Granted ?? 0,
                PushTurnsPassed = _turns?.Passed ?? 0,
            };
            reply.StepSeconds.AddRange(_steps.Select(s => s.Seconds));
            reply.StepLoss.AddRange(_steps.Select(s => s.Loss));
            reply.StepUpdateSeconds.AddRange(_steps.Select(s => s.UpdateSeconds));
            reply.WorkerSteps.AddRange(_workers.Select(w => w.Clock));
            long now = NowMs;
            reply.Workers.AddRange(_workers.Select(w => new WorkerStatus
            {
                WorkerId = w.Id, Registered = w.Registered, Live = w.Registered && !w.Evicted, Clock = w.Clock,
                SilentMs = w.Registered ? now - w.LastSeenMs : 0, Host = w.Host, Device = w.Device,
                RowsPerSecond = _assignments?.Estimates.Speed(w.Id) ?? 0, ExchangeSeconds = _assignments?.Estimates.ExchangeSeconds(w.Id) ?? 0,
            }));
            if ((_assignments?.Current ?? _relayed?.Current) is { } assignment) reply.Assignment = AssignmentWire.ToWire(assignment);
            if (_assignments is not null) reply.AssignmentFromSteps.AddRange(_assignments.FromSteps);
            return reply;
        }
    }

    /// <summary>Stops eviction and releases the optimizer; call once no request is in flight.</summary>
    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _livenessTimer.Dispose();
        // A liveness callback already running sees _disposed under the lock; the optimizer goes only after it.
        lock (_gate) _model.Dispose();
    }

    /// <summary>The checks a push's header alone allows: made on its first chunk and again with the whole push.</summary>
    private void ValidateHeader(in PushHeader header)
    {
        if (header.Shard != Info.Index)
            throw ShardException.Invalid($"push for shard {header.Shard} sent to shard {Info.Index}");
        if (header.SampleCount is <= 0 or > GradientLimits.MaxSampleCount)
            throw ShardException.Invalid($"sample count must be 1 to {GradientLimits.MaxSampleCount} (got {header.SampleCount})");
        if (!double.IsFinite(header.LossSum))
            throw ShardException.Invalid($"loss sum is not finite ({header.LossSum})");
    }

    private void Validate(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        ValidateHeader(header);
        if (header.Piece is { } piece)
        {
            if (ClosingRanges is null)
                throw ShardException.Invalid($"piece {piece} pushed to shard {Info.Index}, which closes whole steps: pieces are gathered into whole pushes first");
            piece.Validate(_model.Length);
            if (gradientSum.Length != piece.Length)
                throw ShardException.Invalid($"piece {piece} carries {gradientSum.Length} values");
        }
        else if (gradientSum.Length != _model.Length)
            throw ShardException.Invalid($"gradient has {gradientSum.Length} values, shard {Info.Index} has {_model.Length}");
        GradientLimits.Check(gradientSum, header.SampleCount);
    }

    /// <summary>
    /// Most characters of a registration's host, device and client token. A GpuPs worker sends its host name (at most 253),
    /// its device's name and host/pid/GUID; each is kept with the slot, logged and sent in every status reply, so a
    /// caller must not make them megabytes (a message may be 4 MiB) or forge log lines with line breaks.
    /// </summary>
    public const int MaxRegisterText = 512;

    /// <summary>Throws InvalidRequest, naming <paramref name="field"/> but not echoing it, unless <paramref name="value"/> is short and has no control character.</summary>
    private static void CheckRegisterText(string field, string value)
    {
        if (value.Length > MaxRegisterText)
            throw ShardException.Invalid($"the registration's {field} has {value.Length} characters; at most {MaxRegisterText} are taken");
        if (value.AsSpan().IndexOfAnyInRange('\u0000', '\u001f') >= 0 || value.Contains('\u007f'))
            throw ShardException.Invalid($"the registration's {field} contains a control character (a line break, a tab, an escape, ...); it is logged and shown in the status as it is");
    }

    /// <summary>Whether <paramref name="clientToken"/> is the non-empty token <paramref name="slot"/> was registered with (compared in constant time).</summary>
    private static bool HeldBy(WorkerSlot slot, string clientToken) =>
        clientToken.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(slot.ClientToken), Encoding.UTF8.GetBytes(clientToken));

    private WorkerSlot Known(int workerId)
    {
        if (workerId < 0 || workerId >= _workers.Length)
            throw ShardException.Invalid($"worker id {workerId} is out of range: the job has {_workers.Length} workers (ids 0..{_workers.Length - 1})");
        if (!_workers[workerId].Registered)
            throw new ShardException(ShardErrorKind.UnknownWorker, $"worker {workerId} is not registered with shard {Info.Index}");
        return _workers[workerId];
    }

    /// <summary>
    /// The slots a node aggregator's push speaks for: distinct registered workers, the first being the header's; each is
    /// alive (it pushed to its aggregator), so each is touched.
    /// </summary>
    private WorkerSlot[] KnownGroup(int workerId, ContributorList contributors)
    {
        if (contributors[0] != workerId)
            throw ShardException.Invalid($"node push names worker {workerId} but its contributors start with {contributors[0]}");
        var slots = new WorkerSlot[contributors.Count];
        for (int i = 0; i < slots.Length; i++)
        {
            slots[i] = Known(contributors[i]);
            if (Array.IndexOf(slots, slots[i], 0, i) >= 0)
                throw ShardException.Invalid($"node push names worker {contributors[i]} twice (contributors {contributors})");
        }
        foreach (var s in slots) Touch(s);
        return slots;
    }

    /// <summary>Records that the worker is alive; an evicted worker that calls again is re-admitted.</summary>
    private void Touch(WorkerSlot slot)
    {
        slot.LastSeenMs = NowMs;
        if (!slot.Evicted) return;
        slot.Evicted = false;
        if (slot.Clock < _model.Step && _mode.ResumesAtShardStep) slot.Clock = _model.Step;
        _log.Information("Worker {WorkerId} is back at step {Step}", slot.Id, _model.Step);
        Notify(new MembershipChange(Info.Index, slot.Id, MembershipEvent.Returned, _model.Step));
        if (_aggregator.OnMembershipChanged())
        {
            RecordStepTime();
            _signal.Pulse();
        }
    }

    /// <summary>
    /// Keeps the wall time of the step that just closed and the time its closing push took to sum, decode and update
    /// (<paramref name="update"/>; zero when no push closed it), the last <see cref="KeptStepTimes"/> of them; returns the step's time.
    /// </summary>
    private TimeSpan RecordStepTime(TimeSpan update = default)
    {
        long now = _time.GetTimestamp();
        var duration = _time.GetElapsedTime(_stepOpenedAt, now);
        _steps.Enqueue((duration.TotalSeconds, _model.LastMeanLoss, update.TotalSeconds));
        if (_steps.Count > KeptStepTimes) _steps.Dequeue();
        _stepOpenedAt = now;
        bool finished = _aggregator.IsFinished;
        var closed = new StepClosed(Info.Index, _model.Step, duration, _model.LastMeanLoss, finished);
        Notify(o => o.OnStepClosed(closed));
        NotifyParameters();
        if (_assignments?.OnStepClosed(_model.Step, Live(), duration.TotalSeconds) is { } code) _aggregator.UseAssignment(code);
        if (finished && _finished.TrySetResult())
            _log.Information("Shard {Shard} finished the job at step {Step}, mean training loss {Loss:F4}", Info.Index, _model.Step, _model.LastMeanLoss);
        return duration;
    }

    private void Notify(MembershipChange change) => Notify(o => o.OnMembershipChanged(change));

    /// <summary>Runs a handler on every observer (under the lock); one that throws is logged, not propagated.</summary>
    private void Notify(Action<IShardObserver> handler)
    {
        foreach (var o in _observers)
        {
            try { handler(o); }
            catch (Exception e) { ObserverFailed(o, e); }
        }
    }

    /// <summary>Hands the parameters after the step that just closed to every observer (a span: no lambda can carry it).</summary>
    private void NotifyParameters()
    {
        foreach (var o in _observers)
        {
            try { o.OnParameters(_model.Step, _model.Parameters); }
            catch (Exception e) { ObserverFailed(o, e); }
        }
    }

    private void ObserverFailed(IShardObserver observer, Exception e) =>
        _log.Error(e, "Shard observer {Observer} failed on shard {Shard}", observer.GetType().Name, Info.Index);

    private long NowMs => (long)_time.GetElapsedTime(0).TotalMilliseconds;

    /// <summary>Per worker, whether it is counted (not evicted): the coordinator gives evicted workers a zero share.</summary>
    private bool[] Live() => _workers.Select(w => w.Expected).ToArray();

    private long ResumeStep(WorkerSlot slot) => _mode.ResumesAtShardStep ? _model.Step : slot.Clock;

    private void EvictSilentWorkers()
    {
        lock (_gate)
        {
            if (_disposed) return;
            long now = NowMs;
            bool changed = false;
            foreach (var w in _workers)
            {
                if (!w.Registered || w.Evicted || _aggregator.IsFinished || now - w.LastSeenMs <= _job.HeartbeatTimeoutMs) continue;
                w.Evicted = true;
                changed = true;
                _log.Warning("Worker {WorkerId} silent for {SilentMs} ms: evicted at step {Step}; the shard no longer waits for it", w.Id, now - w.LastSeenMs, _model.Step);
                Notify(new MembershipChange(Info.Index, w.Id, MembershipEvent.Evicted, _model.Step));
            }
            if (changed)
            {
                if (_aggregator.OnMembershipChanged()) RecordStepTime();
                else if (_assignments?.OnMembershipChanged(_model.Step, Live()) is { } code) _aggregator.UseAssignment(code);
                _signal.Pulse();
            }
        }
    }

}
