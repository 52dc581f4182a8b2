using GpuPs.Core.Aggregation;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Compression;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker.Client;

/// <summary>
/// A worker's handle on a sharded parameter server, the equivalent of ps-lite's <c>KVWorker</c>: pull and push move the
/// whole parameter vector, each shard its own key range [Offset, Offset + Length) of it.
/// </summary>
/// <remarks>
/// <para>Usage:</para>
/// <code>
/// await using var client = new ShardedParameterClient(servers.Select(a => GrpcShardClient.Connect(a, auth)).ToArray(), new(), log);
/// var joined = await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, ct);
/// var parameters = new float[joined.Job.ParameterCount];
/// var pulled = await client.PullAsync(joined.Step, parameters, ct);              // blocks until every shard reached the step
/// // ... compute gradient into a float[] of the same length ...
/// var outcomes = await client.PushAsync(new PushHeader(joined.WorkerId, pulled.Step, 0, rows, loss), gradient, ct);
/// </code>
/// <para><b>Blocking.</b> <see cref="PullAsync"/> completes when every shard has reached <c>minStep</c> (or lets this
/// worker proceed, under SSP); a pull whose deadline passes while the shard still answers heartbeats is repeated, so
/// a pull waits as long as other workers need. <see cref="PushAsync"/> completes when every shard answered.</para>
/// <para><b>Failures.</b> A call that fails because a shard is unreachable is retried with backoff (up to
/// <see cref="ShardedClientOptions.MaxRetries"/> attempts). A shard that has answered nothing — no call, no heartbeat —
/// for longer than the job's heartbeat timeout is lost: <see cref="KeepAliveAsync"/> cancels every call to it, frozen
/// (SIGSTOP) or unreachable alike, and they fail with <see cref="ShardErrorKind.Unavailable"/>. When one shard's pull or
/// push fails for good, its siblings are cancelled and its <see cref="ShardException"/> is thrown: the others could
/// otherwise wait forever for a step that needs this worker. A push a shard refuses is not a failure: it is a
/// <see cref="PushOutcome"/>.</para>
/// <para><b>Threading and ordering.</b> Register once, first. Afterwards one pull, any number of pushes and
/// <see cref="KeepAliveAsync"/> may run concurrently; pushes to a shard are applied in the order the shard receives
/// them, which concurrent pushes do not fix. The buffers passed in must not be touched until the returned task completes.</para>
/// </remarks>
public sealed partial class ShardedParameterClient : IAsyncDisposable
{
    private static readonly TimeSpan SlotRetryDelay = TimeSpan.FromMilliseconds(500);
    private readonly PulledCopy[] _copies;   // compressed pulls: this worker's copy of each shard
    private readonly ShardConnection[] _shards;
    private readonly ShardedClientOptions _options;
    private readonly RetryPolicy _retry;
    private readonly PushLog _pushLog;
    private readonly long[] _lastAnsweredMs;   // per shard: when it last answered anything
    private readonly CancellationTokenSource[] _lost;   // per shard: cancelled when it stays silent past the heartbeat timeout
    private ShardInfo[] _layout = [];
    private int _heartbeatTimeoutMs = int.MaxValue;
    private ILogger _log;

    /// <summary>A client of <paramref name="shards"/>, which it owns from now on; it calls nothing yet.</summary>
    /// <param name="shards">One connection per shard, in shard order; at least one.</param>
    /// <param name="options">Retry and timing settings; null for the defaults.</param>
    /// <param name="log">Where retries and lost shards are logged.</param>
    /// <exception cref="ArgumentException"><paramref name="shards"/> is empty.</exception>
    public ShardedParameterClient(IReadOnlyList<ShardConnection> shards, ShardedClientOptions? options, ILogger log)
    {
        if (shards.Count == 0) throw new ArgumentException("a worker needs at least one server address", nameof(shards));
        _shards = [.. shards];
        _options = options ?? new ShardedClientOptions();
        _pushLog = new PushLog(_options.PushLogSteps);
        _log = log;
        _retry = new RetryPolicy(_options.MaxRetries, log);
        _lastAnsweredMs = _shards.Select(_ => Environment.TickCount64).ToArray();
        _lost = _shards.Select(_ => new CancellationTokenSource()).ToArray();
        _copies = _shards.Select(_ => new PulledCopy()).ToArray();
    }

    /// <summary>Bytes the pulls carried: compressed deltas, or 4 a value for parameters in full; pulls fused into pushes and pulls in pieces included.</summary>
    public long BytesPulled => _copies.Sum(c => c.BytesPulled);

    /// <summary>The id the shards admitted this worker under; -1 before <see cref="RegisterAsync"/>.</summary>
    public int WorkerId { get; private set; } = -1;

    /// <summary>Shard i's key range, in shard order; empty before <see cref="RegisterAsync"/>.</summary>
    public IReadOnlyList<ShardInfo> Layout => _layout;

    /// <summary>
    /// Joins the job on every shard under one worker id (the first shard assigns it unless the request names one) and
    /// checks that the shards run the same job and cover the vector in the order they were given. While a shard answers
    /// that another live client holds the id, it asks again every 0.5 s for up to <see cref="ShardedClientOptions.SlotWait"/>
    /// (a restarted worker waits for its predecessor's eviction), then throws that answer.
    /// </summary>
    /// <exception cref="InvalidOperationException">The shards disagree on the job or their order.</exception>
    /// <exception cref="ShardException">A shard refused the registration, e.g. SlotTaken after the wait.</exception>
    public async Task<Registration> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken)
    {
        var first = await RegisterWithAsync(0, request, cancellationToken).ConfigureAwait(false);
        CheckOrder(0, first.Shard);
        var layout = new ShardInfo[_shards.Length];
        var replies = new RegisterReply[_shards.Length];
        (layout[0], replies[0]) = (first.Shard, first);
        long step = first.Step;
        var again = request.Clone();
        again.RequestedWorkerId = first.WorkerId;
        for (int i = 1; i < _shards.Length; i++)
        {
            var shard = _shards[i];
            var reply = await RegisterWithAsync(i, again, cancellationToken).ConfigureAwait(false);
            if (!reply.Job.Equals(first.Job))
                throw new InvalidOperationException($"server {shard.Address} runs a different job than {_shards[0].Address}");
            CheckOrder(i, reply.Shard);
            (layout[i], replies[i]) = (reply.Shard, reply);
            step = Math.Min(step, reply.Step);
        }
        var job = ValidJob(first);
        _layout = layout;
        if (WorkerId < 0) _log = _log.ForContext("WorkerId", first.WorkerId);   // once, not again on a rejoin
        WorkerId = first.WorkerId;
        CreatePieceLinks(job);
        StartTurns(job);
        StartCopies(job, replies);
        _heartbeatTimeoutMs = first.Job.HeartbeatTimeoutMs;
        Array.Fill(_lastAnsweredMs, Environment.TickCount64);
        return new Registration(first.WorkerId, job, layout, step);
    }

    /// <summary>
    /// Throws unless the server listed <paramref name="i"/>-th owns shard <paramref name="i"/> of as many as were listed:
    /// checked at each registration, so a worker given the servers out of order stops before it joins the next one (each
    /// shard it joined keeps its slot until its heartbeat timeout).
    /// </summary>
    private void CheckOrder(int i, ShardInfo shard)
    {
        if (shard.Index != i || shard.Count != _shards.Length)
            throw new InvalidOperationException($"server {_shards[i].Address} owns shard {shard.Index} of {shard.Count}; expected shard {i} of {_shards.Length} (list servers in shard order)");
    }

    /// <summary>
    /// Pulls every shard's slice of the parameters into <paramref name="parameters"/> once it has reached
    /// <paramref name="minStep"/>. With <paramref name="sameStep"/>, shards that answered with different steps (they close
    /// steps independently, so a late worker may read shard 0 at t+1 and shard 1 at t+2) are pulled again at the newest,
    /// until every slice is of one step. A shard behind the others (restarted from an older checkpoint) is first sent this
    /// worker's logged pushes of the steps it lacks (<see cref="ShardedClientOptions.PushLogSteps"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">With <paramref name="sameStep"/> and a push log: a shard is further
    /// behind than the log reaches back, so it can never be brought up to the others (the message names it and both steps).</exception>
    public async Task<PulledParameters> PullAsync(long minStep, Memory<float> parameters, CancellationToken cancellationToken, bool sameStep = false)
    {
        CheckRegistered(parameters.Length);
        var pulled = await FanOutAsync((i, ct) => PullShardAsync(i, minStep, parameters, ct), cancellationToken).ConfigureAwait(false);
        while (sameStep && !pulled.Any(p => p.Finished) && pulled.Any(p => p.Step != pulled[0].Step))
        {
            long newest = pulled.Max(p => p.Step);
            await CatchUpAsync(pulled, newest, parameters, cancellationToken).ConfigureAwait(false);
            pulled = await FanOutAsync((i, ct) => PullShardAsync(i, newest, parameters, ct), cancellationToken).ConfigureAwait(false);
        }
        return new PulledParameters(pulled.Min(p => p.Step), pulled.Any(p => p.Finished));
    }

    /// <summary>
    /// Pushes <paramref name="gradient"/> (the whole vector) to every shard, each its slice, with
    /// <paramref name="header"/> (its shard index set per shard). Returns each shard's answer, in shard order. A push
    /// that more than one call carries is checked whole first (<see cref="CheckWhole"/>); a whole push to one shard is
    /// checked by that shard. The push's own wait for its round-robin turns is added to <c>turnWait</c> (its latency
    /// from the first byte leaves it out).
    /// </summary>
    /// <remarks>
    /// With <paramref name="computed"/> the gradient is still being computed in key order (the wavefront): each piece (a
    /// whole push: each shard's slice) waits until its keys are computed and leaves then, and a stopped compute fails the
    /// push before anything more leaves. The caller has checked the push's limits beforehand (its values are not there
    /// yet); the push log records it once it is whole.
    /// </remarks>
    /// <exception cref="ShardException">InvalidRequest: a push over several shards or in pieces that is not finite or beyond the mean limit; nothing was sent.</exception>
    public async Task<IReadOnlyList<PushOutcome>> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken,
        TensorEncoding encoding = TensorEncoding.Float32, TurnWait? turnWait = null, ComputedPrefix? computed = null)
    {
        CheckRegistered(gradient.Length);
        bool inPieces = SendsInPieces(encoding);
        if (computed is null)
        {
            CheckWhole(header, gradient.Span, inPieces);
            _pushLog.Record(header, gradient.Span, encoding);
        }
        var outcomes = await FanOutUnderTurnsAsync(async (i, waited, ct) =>
        {
            var info = _layout[i];
            var slice = gradient.Slice((int)info.Offset, (int)info.Length);
            var shardHeader = header with { Shard = info.Index };
            if (inPieces) return await PushPiecesAsync(i, shardHeader, slice, encoding, waited, ct, computed).ConfigureAwait(false);
            if (computed is not null) await computed.WhenComputedAsync(info.Offset + info.Length, ct).ConfigureAwait(false);
            if (await TakeTurnAsync(i, shardHeader, null, waited, ct).ConfigureAwait(false) is { } late) return late;
            return await CallAsync(i, $"push to shard {i} at {_shards[i].Address}",
                token => _shards[i].Tensors.PushAsync(shardHeader, slice, token, _options.CallTimeout, encoding), ct).ConfigureAwait(false);
        }, turnWait, cancellationToken).ConfigureAwait(false);
        if (computed is not null) _pushLog.Record(header, gradient.Span, encoding);
        return outcomes;
    }

    /// <summary>
    /// Checks a push whole (<see cref="GradientLimits.Check"/>) before anything leaves when more than one call carries it:
    /// each shard checks only its slice, so a NaN in one slice would be refused by its shard and applied by the others,
    /// leaving the shards at different steps; and a shard that closes per range applies each piece as its range closes,
    /// so a bad value in the last piece must stop the first from leaving. A whole push to one shard is left to that
    /// shard, which refuses it whole; so is a push without rows. One pass over the gradient (TensorPrimitives.MaxMagnitude).
    /// </summary>
    private void CheckWhole(PushHeader header, ReadOnlySpan<float> gradient, bool inPieces)
    {
        if (header.SampleCount >= 1 && (inPieces || _layout.Length > 1)) GradientLimits.Check(gradient, header.SampleCount);
    }

    /// <summary>Whether a push of <paramref name="encoding"/> goes in pieces: piece links are set up and it is not compressed.</summary>
    private bool SendsInPieces(TensorEncoding encoding) => _pieceLinks is not null && !TensorCodec.IsCompressed(encoding);

    /// <summary>
    /// Whether <see cref="PushPullAsync"/> can carry a pull: whole tensors (pieces are pushed and pulled one by one), and
    /// every shard's plane fuses (<see cref="ITensorChannel.FusesPushPull"/>: the TCP data plane, not gRPC).
    /// </summary>
    public bool CanFuse => _pieceLinks is null && _shards.All(s => s.Tensors.FusesPushPull);

    /// <summary>
    /// Pushes as <see cref="PushAsync"/> and, where every shard's plane fuses them (<see cref="ITensorChannel.PushPullAsync"/>:
    /// one round trip per shard), pulls the parameters of <paramref name="minStep"/> into <paramref name="parameters"/> in
    /// the same calls. <see cref="FusedStep.Pulled"/> is null when any shard brought no pull back (a push not applied, a
    /// plane that cannot fuse, a pull the server could not answer) or, with <paramref name="sameStep"/>, the shards'
    /// steps differ: the caller then pulls with <see cref="PullAsync"/>, which overwrites whatever came. Always in full:
    /// with compressed pulls push and pull separately. With pieces (<see cref="CanFuse"/> false) it only pushes. In a
    /// round-robin job each shard's push-pull goes once the shard granted its turn (the wait is added to
    /// <paramref name="turnWait"/>); a push refused before its turn is answered without a pull.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest: as <see cref="PushAsync"/>, a push over several shards that is not finite or beyond the mean limit; nothing was sent.</exception>
    public async Task<FusedStep> PushPullAsync(PushHeader header, ReadOnlyMemory<float> gradient, long minStep, Memory<float> parameters,
        CancellationToken cancellationToken, TensorEncoding encoding = TensorEncoding.Float32, bool sameStep = false, TurnWait? turnWait = null)
    {
        CheckRegistered(parameters.Length);
        if (!CanFuse) return new FusedStep(await PushAsync(header, gradient, cancellationToken, encoding, turnWait).ConfigureAwait(false), System.Diagnostics.Stopwatch.GetTimestamp(), null);
        CheckRegistered(gradient.Length);
        CheckWhole(header, gradient.Span, inPieces: false);   // CanFuse: no piece links
        _pushLog.Record(header, gradient.Span, encoding);
        var answers = await FanOutUnderTurnsAsync(async (i, waited, ct) =>
        {
            var info = _layout[i];
            var slice = gradient.Slice((int)info.Offset, (int)info.Length);
            var destination = parameters.Slice((int)info.Offset, (int)info.Length);
            var shardHeader = header with { Shard = info.Index };
            if (await TakeTurnAsync(i, shardHeader, null, waited, ct).ConfigureAwait(false) is { } refused)
                return new FusedPushPull(refused, System.Diagnostics.Stopwatch.GetTimestamp(), null);
            return await CallAsync(i, $"push-pull to shard {i} at {_shards[i].Address}",
                token => _shards[i].Tensors.PushPullAsync(shardHeader, slice, minStep, destination, token, _options.CallTimeout, encoding), ct).ConfigureAwait(false);
        }, turnWait, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < answers.Length; i++)
            if (answers[i].Pull is { } came) _copies[i].CountInFull(came, parameters.Span.Slice((int)_layout[i].Offset, (int)_layout[i].Length));
        var outcomes = answers.Select(a => a.Push).ToArray();
        long answered = answers.Max(a => a.PushAnsweredAt);
        if (answers.Any(a => a.Pull is null)) return new FusedStep(outcomes, answered, null);
        var pulled = answers.Select(a => a.Pull!.Value).ToArray();
        if (sameStep && !pulled.Any(p => p.Finished) && pulled.Any(p => p.Step != pulled[0].Step)) return new FusedStep(outcomes, answered, null);
        return new FusedStep(outcomes, answered, new PulledParameters(pulled.Min(p => p.Step), pulled.Any(p => p.Finished)));
    }

    /// <summary>
    /// Sends a heartbeat to every shard every third of the job's heartbeat timeout until cancelled, reporting the step
    /// <paramref name="currentStep"/> returns. A failed heartbeat is logged; a shard silent for the heartbeat timeout is
    /// declared lost, which fails every call to it. Each shard has its own loop, so a frozen shard's calls running to
    /// their deadlines hold up no other shard's heartbeats, and a shard's wait and deadline end where its silence reaches
    /// the timeout: it is given up then, not a heartbeat period later. Measured (2 servers, 2 workers, one server
    /// SIGSTOPped, default 10 s timeout): workers exited 10.07-10.15 s after the freeze; with one loop over the shards,
    /// each call with the period as its deadline, 11.2-13.2 s.
    /// </summary>
    public async Task KeepAliveAsync(Func<long> currentStep, CancellationToken cancellationToken)
    {
        if (WorkerId < 0) throw new InvalidOperationException("register before sending heartbeats");
        var period = TimeSpan.FromMilliseconds(Math.Max(50, _heartbeatTimeoutMs / 3));
        await Task.WhenAll(Enumerable.Range(0, _shards.Length).Select(i => KeepShardAliveAsync(i, currentStep, period, cancellationToken))).ConfigureAwait(false);
    }

    private async Task KeepShardAliveAsync(int i, Func<long> currentStep, TimeSpan period, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(UntilSilenceTimesOut(i, period), cancellationToken).ConfigureAwait(false);
                if (SilentMs(i) >= _heartbeatTimeoutMs)
                {
                    GiveUp(i);
                    return;
                }
                try
                {
                    await _shards[i].Control.HeartbeatAsync(new HeartbeatRequest { WorkerId = WorkerId, Step = currentStep() }, cancellationToken,
                        UntilSilenceTimesOut(i, period)).ConfigureAwait(false);
                    Answered(i);
                }
                catch (ShardException e)
                {
                    // A refusal (a restarted shard that does not know this worker yet) is still a sign of life.
                    if (e.Kind is not (ShardErrorKind.Unavailable or ShardErrorKind.Timeout)) Answered(i);
                    _log.Debug("Heartbeat to {Server} failed: {Reason}", _shards[i].Address, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
    }

    /// <summary><paramref name="period"/>, or less where shard <paramref name="i"/>'s silence reaches the heartbeat timeout sooner (at least 1 ms).</summary>
    private TimeSpan UntilSilenceTimesOut(int i, TimeSpan period) =>
        TimeSpan.FromMilliseconds(Math.Clamp(_heartbeatTimeoutMs - SilentMs(i), 1, period.TotalMilliseconds));

    private void GiveUp(int i)
    {
        _log.Warning("Shard {Shard} at {Server} answered nothing for {SilentMs} ms (heartbeat timeout {TimeoutMs} ms): giving it up",
            i, _shards[i].Address, SilentMs(i), _heartbeatTimeoutMs);
        _lost[i].Cancel();
    }

    /// <summary>
    /// Sends <paramref name="report"/> (this worker's measured step times) to the coordinator, shard 0, as a heartbeat, and
    /// returns its reply, which carries this worker's push slot in a round-robin job. Retried like any call.
    /// </summary>
    public Task<HeartbeatReply> ReportToCoordinatorAsync(HeartbeatRequest report, CancellationToken cancellationToken)
    {
        if (WorkerId < 0) throw new InvalidOperationException("register before reporting");
        report.WorkerId = WorkerId;
        return CallAsync(0, $"report to the coordinator at {_shards[0].Address}",
            ct => _shards[0].Control.HeartbeatAsync(report, ct, _options.CallTimeout), cancellationToken);
    }

    /// <summary>
    /// Sends <paramref name="heartbeat"/> to every shard but the coordinator (shard 0) at once and waits for all: how a
    /// worker hands them the coordinator's assignment before it pushes a step encoded with it. Retried like any call.
    /// </summary>
    public Task RelayToShardsAsync(HeartbeatRequest heartbeat, CancellationToken cancellationToken)
    {
        if (WorkerId < 0) throw new InvalidOperationException("register before relaying");
        heartbeat.WorkerId = WorkerId;
        return Task.WhenAll(Enumerable.Range(1, _shards.Length - 1).Select(i => CallAsync(i, $"relay the assignment to shard {i} at {_shards[i].Address}",
            ct => _shards[i].Control.HeartbeatAsync(heartbeat, ct, _options.CallTimeout), cancellationToken)));
    }

    /// <summary>Disposes every shard connection.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var shard in _shards) await shard.DisposeAsync().ConfigureAwait(false);
        foreach (var lost in _lost) lost.Dispose();
    }

    /// <summary>
    /// Pushes again, in order, this worker's logged pushes of the steps each shard in <paramref name="pulled"/> lacks to
    /// reach <paramref name="newest"/>, each step's once the shard has opened that step (a pull into
    /// <paramref name="parameters"/>, which the caller pulls again). The answers need no checking: a push the shard
    /// already has is a duplicate, applied once. Without a log (0 steps) a shard behind is left to wait: shards close
    /// steps independently, so one may trail by a step while the other workers' pushes are on their way.
    /// </summary>
    /// <exception cref="InvalidOperationException">The log is on and does not reach back to a shard's step: that shard
    /// restarted from a checkpoint older than the log, waits for pushes this worker no longer has, and would wait forever
    /// (a live worker is never evicted). Measured before this check: every worker of a 2-shard BSP job waited 150 s and
    /// more, one warning each, until killed.</exception>
    private async Task CatchUpAsync(PullResult[] pulled, long newest, Memory<float> parameters, CancellationToken cancellationToken)
    {
        for (int i = 0; i < pulled.Length; i++)
        {
            if (pulled[i].Step >= newest || _pushLog.Steps == 0) continue;
            var entries = _pushLog.Between(pulled[i].Step, newest)
                ?? throw new InvalidOperationException($"shard {i} at {_shards[i].Address} is at step {pulled[i].Step} and the other shards at {newest}: " +
                    $"it resumed from an older checkpoint, and this worker's push log ({_pushLog.Steps} steps) does not reach back to step {pulled[i].Step}, " +
                    "so the pushes it lost cannot reach it again and it would wait for them forever; start the workers with a --push-log-steps that " +
                    "reaches back past the servers' newest checkpoint (its writer can lag --checkpoint-every by hundreds of steps when steps are fast), " +
                    "or restart the job");
            var info = _layout[i];
            long opened = pulled[i].Step;
            foreach (var entry in entries)
            {
                // BSP refuses a push for a step the shard has not opened yet: wait for the other workers' pushes of the last.
                if (entry.Header.Step > opened) opened = (await PullShardAsync(i, entry.Header.Step, parameters, cancellationToken).ConfigureAwait(false)).Step;
                var slice = entry.Gradient.AsMemory((int)info.Offset, (int)info.Length);
                var header = entry.Header with { Shard = info.Index };
                await CallAsync(i, $"replayed push of step {header.Step} to shard {i} at {_shards[i].Address}",
                    token => _shards[i].Tensors.PushAsync(header, slice, token, _options.CallTimeout, entry.Encoding), cancellationToken).ConfigureAwait(false);
            }
            _log.Information("Shard {Shard} was at step {Step}, the others at {Newest}: pushed it this worker's {Count} logged pushes of those steps again",
                i, pulled[i].Step, newest, entries.Count);
        }
    }

    /// <summary>The job the first shard named, or why it is impossible.</summary>
    private TrainingJob ValidJob(RegisterReply reply)
    {
        try { return JobSpecWire.FromWire(reply.Job); }
        catch (ArgumentException e) { throw new InvalidOperationException($"server {_shards[0].Address} runs an impossible job: {e.Message}", e); }
    }

    /// <summary>Registers with shard <paramref name="i"/>, retrying while it is unreachable or the requested id is held by a live client.</summary>
    private async Task<RegisterReply> RegisterWithAsync(int i, RegisterRequest request, CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await CallAsync(i, $"register with shard {i} at {_shards[i].Address}",
                    ct => _shards[i].Control.RegisterAsync(request, ct, _options.CallTimeout), cancellationToken).ConfigureAwait(false);
            }
            catch (ShardException e) when (e.Kind == ShardErrorKind.SlotTaken && waited.Elapsed < _options.SlotWait)
            {
                _log.Information("Worker id {WorkerId} is still held on shard {Shard} ({Reason}); asking again in {DelayMs} ms",
                    request.RequestedWorkerId, i, e.Message, (int)SlotRetryDelay.TotalMilliseconds);
                await Task.Delay(SlotRetryDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<PullResult> PullShardAsync(int i, long minStep, Memory<float> parameters, CancellationToken ct)
    {
        var info = _layout[i];
        var destination = parameters.Slice((int)info.Offset, (int)info.Length);
        while (true)
        {
            try
            {
                return await CallAsync(i, $"pull from shard {i} at {_shards[i].Address}",
                    token => _pieceLinks is null || _wholePulls
                        ? _copies[i].PullAsync(_shards[i].Tensors, WorkerId, minStep, destination, token, _options.CallTimeout)
                        : PullPiecesAsync(i, minStep, destination, token), ct).ConfigureAwait(false);
            }
            catch (ShardException e) when (e.Kind == ShardErrorKind.Timeout && !ct.IsCancellationRequested)
            {
                // Alive (it answered a heartbeat lately) but the step is not open yet: other workers are slower. Keep
                // waiting. A shard that answers nothing at all is given up on like an unreachable one.
                if (SilentMs(i) > _heartbeatTimeoutMs) throw Lost(i, e);
                _log.Debug("Worker {WorkerId} still waiting for step {Step} on shard {Shard}", WorkerId, minStep, i);
            }
        }
    }

    /// <summary>
    /// One call to shard <paramref name="i"/>, retried while the shard is unreachable, cancelled when the shard is lost
    /// (then it fails with <see cref="ShardErrorKind.Unavailable"/>); any answer counts as a sign of life.
    /// </summary>
    private async Task<T> CallAsync<T>(int i, string what, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _lost[i].Token);
        try
        {
            var answer = await _retry.RunAsync(what, () => call(linked.Token), linked.Token).ConfigureAwait(false);
            Answered(i);
            return answer;
        }
        catch (OperationCanceledException e) when (_lost[i].IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw Lost(i, e);
        }
        catch (ShardException e) when (e.Kind is not (ShardErrorKind.Unavailable or ShardErrorKind.Timeout))
        {
            Answered(i);   // a refusal is an answer; a passed deadline is not (a frozen shard lets every deadline pass)
            throw;
        }
    }

    private void Answered(int i) => Volatile.Write(ref _lastAnsweredMs[i], Environment.TickCount64);

    private long SilentMs(int i) => Environment.TickCount64 - Volatile.Read(ref _lastAnsweredMs[i]);

    private ShardException Lost(int i, Exception inner) => new(ShardErrorKind.Unavailable,
        $"shard {i} at {_shards[i].Address} answered nothing for {SilentMs(i)} ms (heartbeat timeout {_heartbeatTimeoutMs} ms)", inner);

    /// <summary>
    /// <see cref="FanOutAsync"/> of a push: <paramref name="call"/> adds each shard's round-robin turn waits to the array it
    /// is given (<see cref="TakeTurnAsync"/>), and they go to <paramref name="turnWait"/> however the push ends.
    /// </summary>
    private async Task<T[]> FanOutUnderTurnsAsync<T>(Func<int, long[], CancellationToken, Task<T>> call, TurnWait? turnWait, CancellationToken cancellationToken)
    {
        var waited = new long[_shards.Length];   // each shard's turn waits
        try
        {
            return await FanOutAsync((i, ct) => call(i, waited, ct), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            turnWait?.Add(waited);
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> for every shard at once. If one fails for good, the others are cancelled and its error
    /// is thrown (not the siblings' cancellations).
    /// </summary>
    private async Task<T[]> FanOutAsync<T>(Func<int, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? first = null;
        var calls = Enumerable.Range(0, _shards.Length).Select(async i =>
        {
            try { return await call(i, siblings.Token).ConfigureAwait(false); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref first, e, null);
                siblings.Cancel();
                throw;
            }
        }).ToList();
        try
        {
            return await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch when (first is not null && !cancellationToken.IsCancellationRequested)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    private void CheckRegistered(int length)
    {
        if (WorkerId < 0) throw new InvalidOperationException("register before pulling or pushing");
        long expected = _layout[^1].Offset + _layout[^1].Length;
        if (length != expected) throw new ArgumentException($"the buffer holds {length} floats; the shards hold {expected} parameters");
    }
}
