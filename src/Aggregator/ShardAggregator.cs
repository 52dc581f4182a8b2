using System.Buffers;
using System.Numerics.Tensors;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Topology;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Aggregator;

/// <summary>
/// One shard's side of a node aggregator: to the node's workers it is that shard (same gRPC contract, served by
/// <see cref="ParameterServerService"/>), to the shard it is one client that sends ONE push per step per combinable group
/// of the node's workers, naming them as its contributors, so that the shard's step rules (quorum, clocks, exactly-once,
/// eviction) hold as if each had pushed. Thread-safe.
/// </summary>
/// <remarks>
/// <para>What is combined is the mode's <see cref="PushCombining"/>. Sum (bsp, backup): the node's pushes of a step are
/// summed and forwarded once every node worker the aggregator expects has pushed, or when <c>gatherTimeout</c> has passed
/// since the first; a worker that missed the deadline is not expected again until it pushes (so a dead worker costs
/// the deadline once), and a late one is forwarded on its own. EqualCodeRows (coded): the first push of each group of
/// equal rows of B is forwarded at once, for that worker; later pushes of the group for the step carry the same vector,
/// so they are answered with the forwarded push's outcome and not sent (the decode is the flat one's).</para>
/// <para>Each worker's push is answered with the upstream push's outcome. When the shard refuses a combined push as a
/// duplicate (one of its workers pushed directly meanwhile) or the upstream push fails, the workers get
/// <see cref="ShardErrorKind.Unavailable"/>, and their <see cref="NodeAggregatedChannel"/> pushes directly, where the
/// shard decides each one. Pulls are served from one upstream pull per step, shared by the node's workers.</para>
/// </remarks>
public sealed class ShardAggregator : IParameterShard, IDisposable
{
    private readonly object _gate = new();
    private readonly TrainingJob _job;
    private readonly JobSpec _wireJob;
    private readonly TopologyNode _node;
    private readonly ITensorChannel _upstream;
    private readonly TimeSpan _gatherTimeout, _upstreamTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly PushCombining _combining;
    private readonly Dictionary<int, int> _groupOf = [];   // worker → the first node worker with the same row of B (Sum: one group)
    private readonly Dictionary<(long Step, int Group), Batch> _open = [];
    private readonly Dictionary<(long Step, int Group), Task<PushOutcome>> _sent = [];   // coded: the group's forwarded push
    private readonly Dictionary<long, HashSet<int>> _forwarded = [];   // step → node workers already forwarded
    private readonly HashSet<int> _absent = [];
    private float[]? _parameters;   // the newest parameters pulled from the shard, shared by the node's pulls
    private PullResult _pulled;
    private Task? _pull;            // the upstream pull in flight (or last done), for _pullMinStep
    private long _pullMinStep = -1;
    private long _received, _messages, _bytesForwarded, _redundant, _gatherTimeouts, _bytesPulled;
    private bool _disposed;

    /// <summary>The aggregator of <paramref name="node"/>'s pushes to shard <paramref name="info"/> of <paramref name="job"/>.</summary>
    /// <param name="job">The job the shard runs (as its status reports it).</param>
    /// <param name="info">The shard's key range and index.</param>
    /// <param name="node">The node whose workers push here.</param>
    /// <param name="upstream">The data plane to the shard (gRPC: only it carries contributors); owned by the caller.</param>
    /// <param name="gatherTimeout">Sum: how long after a step's first push the node's sum is forwarded without the missing workers.</param>
    /// <param name="log">Receives forwards and timeouts, tagged with the node and shard.</param>
    /// <param name="time">The clock of the gather deadline (tests pass a fake one).</param>
    /// <exception cref="ArgumentException">The job's mode combines nothing (<see cref="PushCombining.None"/>), or assigns by measured speed (its code changes under the aggregator).</exception>
    public ShardAggregator(TrainingJob job, ShardInfo info, TopologyNode node, ITensorChannel upstream, TimeSpan gatherTimeout, ILogger log,
        TimeProvider? time = null)
    {
        _combining = job.Mode.Combining;
        if (_combining == PushCombining.None)
            throw new ArgumentException($"the {job.Mode.Name} mode takes no node-aggregated pushes (each push is its own update or message); hierarchical aggregation works with bsp, backup and coded");
        if (Core.Heterogeneity.AssignmentPolicies.BySpeed(job.Assignment))
            throw new ArgumentException("hierarchical aggregation needs a fixed assignment; --assignment proportional changes the code under the aggregator");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(gatherTimeout, TimeSpan.Zero);
        (_job, Info, _node, _upstream, _gatherTimeout, _time) = (job, info, node, upstream, gatherTimeout, time ?? TimeProvider.System);
        _wireJob = JobSpecWire.ToWire(job);
        _upstreamTimeout = TimeSpan.FromMilliseconds(job.StepTimeoutMs);
        _log = log.ForContext("Node", node.Label).ForContext("Shard", info.Index);
        var code = job.Mode.Assignment(job);
        foreach (var w in node.Workers)
            _groupOf[w] = _combining == PushCombining.Sum ? node.Workers[0] : node.Workers.First(v => SameRow(code, v, w));
    }

    /// <inheritdoc />
    public ShardInfo Info { get; }

    /// <summary>Pushes received from the node's workers.</summary>
    public long PushesReceived => Interlocked.Read(ref _received);

    /// <summary>Pushes sent to the shard (each for one or more workers).</summary>
    public long MessagesForwarded => Interlocked.Read(ref _messages);

    /// <summary>Tensor bytes sent to the shard.</summary>
    public long BytesForwarded => Interlocked.Read(ref _bytesForwarded);

    /// <summary>Tensor bytes pulled from the shard (once per step the node's workers pulled).</summary>
    public long BytesPulled => Interlocked.Read(ref _bytesPulled);

    /// <summary>Coded: pushes not forwarded because a worker of the same group already was for the step.</summary>
    public long RedundantPushes => Interlocked.Read(ref _redundant);

    /// <summary>Sum: steps whose node sum was forwarded without every expected worker (the gather deadline passed).</summary>
    public long GatherTimeouts => Interlocked.Read(ref _gatherTimeouts);

    /// <summary>Refused: workers register with the shards themselves.</summary>
    public RegisterReply Register(RegisterRequest request) => throw Refused("register with the shards");

    /// <summary>
    /// Waits until the node's copy of the shard's parameters is at <paramref name="minStep"/> (or the job finished): the
    /// first of the node's pulls for a step pulls once from the shard, the others wait for that pull, so the node's link
    /// carries the parameters once per step. A failed upstream pull fails the waiting pulls (their workers then pull directly).
    /// </summary>
    public async Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task pull;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_parameters is not null && (_pulled.Step >= minStep || _pulled.Finished)) return;
                if (_pull is null || _pull.IsFaulted || _pull.IsCanceled || _pullMinStep < minStep)
                {
                    _pullMinStep = minStep;
                    _pull = PullUpstreamAsync(minStep);
                }
                pull = _pull;
            }
            await pull.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Copies the node's copy of the shard's parameters (the newest pulled) into <paramref name="destination"/>.</summary>
    public PullResult CopyParameters(Span<float> destination)
    {
        lock (_gate)
        {
            if (_parameters is null) throw ShardException.Invalid($"node {_node.Label}'s aggregator has not pulled shard {Info.Index} yet");
            if (destination.Length != _pulled.Length)
                throw ShardException.Invalid($"pull destination has {destination.Length} floats, shard {Info.Index} has {_pulled.Length}");
            _parameters.AsSpan(0, _pulled.Length).CopyTo(destination);
            return _pulled;
        }
    }

    /// <summary>Pulls the shard's parameters at <paramref name="minStep"/> into a fresh buffer and makes it the node's copy.</summary>
    private async Task PullUpstreamAsync(long minStep)
    {
        int length = checked((int)Info.Length);
        var buffer = ArrayPool<float>.Shared.Rent(length);
        try
        {
            var result = await _upstream.PullAsync(ParameterShard.ObserverId, minStep, buffer.AsMemory(0, length), CancellationToken.None, _upstreamTimeout).ConfigureAwait(false);
            Interlocked.Add(ref _bytesPulled, (long)length * sizeof(float));
            lock (_gate)
            {
                if (_parameters is null || result.Step >= _pulled.Step)
                {
                    (buffer, _parameters) = (_parameters, buffer);
                    _pulled = result;
                }
            }
        }
        catch (Exception e) when (e is not ShardException)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"node aggregator {_node.Label}: upstream pull failed: {e.Message}", e);
        }
        finally
        {
            if (buffer is not null) ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>Refused: workers send heartbeats to the shards themselves.</summary>
    public HeartbeatReply Heartbeat(HeartbeatRequest request) => throw Refused("send heartbeats to the shards");

    /// <summary>The aggregator's counters: pushes received (<c>pushes_applied</c>), bytes received, the job and the shard.</summary>
    public StatusReply Status() => new()
    {
        Shard = Info, Job = _wireJob, PushesApplied = PushesReceived, RegisteredWorkers = _node.Workers.Count,
    };

    /// <summary>Admits a push of one of the node's workers for this shard (the shard itself decides the rest).</summary>
    public PushOutcome Admit(in PushHeader header)
    {
        Check(header);
        return PushOutcome.Applied(header.Step, closedStep: false, jobFinished: false);
    }

    /// <summary>Blocks until <see cref="PushAsync"/> completes; the gRPC edge calls <see cref="PushAsync"/> instead.</summary>
    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        var copy = gradientSum.ToArray();
        return PushAsync(header, copy, CancellationToken.None).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Adds the push to its step's group and answers with the outcome of the group's upstream push (see remarks).
    /// Cancelling gives up waiting for the answer; the push stays in the group.
    /// </summary>
    public async ValueTask<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradientSum, CancellationToken cancellationToken)
    {
        Check(header);
        if (gradientSum.Length != Info.Length)
            throw ShardException.Invalid($"gradient has {gradientSum.Length} values, shard {Info.Index} has {Info.Length}");
        Batch? flush = null;
        Task<PushOutcome> answer;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _received++;
            _absent.Remove(header.WorkerId);
            var key = (header.Step, _groupOf[header.WorkerId]);
            if (_sent.TryGetValue(key, out var sent))
            {
                _redundant++;
                answer = sent;
            }
            else
            {
                if (!_open.TryGetValue(key, out var batch))
                {
                    batch = new Batch(header.Step, key.Item2, checked((int)Info.Length));
                    _open[key] = batch;
                    if (_combining == PushCombining.Sum)
                        batch.Timer = _time.CreateTimer(_ => GatherTimedOut(batch), null, _gatherTimeout, Timeout.InfiniteTimeSpan);
                }
                if (!batch.Workers.Contains(header.WorkerId)) batch.Add(header, gradientSum.Span);
                answer = batch.Done.Task;
                if (IsComplete(batch))
                {
                    Seal(batch);
                    flush = batch;
                }
            }
        }
        if (flush is not null) _ = ForwardAsync(flush);
        return await answer.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fails every push still waiting; later pushes are refused.</summary>
    public void Dispose()
    {
        Batch[] open;
        lock (_gate)
        {
            _disposed = true;
            open = [.. _open.Values];
            _open.Clear();
        }
        foreach (var batch in open)
        {
            batch.Timer?.Dispose();
            batch.Done.TrySetException(new ShardException(ShardErrorKind.Unavailable, $"node aggregator {_node.Label} stopped; push to the shard directly"));
            batch.Release();
        }
    }

    private void Check(in PushHeader header)
    {
        if (header.Shard != Info.Index)
            throw ShardException.Invalid($"push for shard {header.Shard} sent to node {_node.Label}'s aggregator of shard {Info.Index}");
        if (header.Contributors is not null)
            throw ShardException.Invalid($"node aggregator {_node.Label} takes workers' own pushes, not combined ones (contributors {header.Contributors})");
        if (!_groupOf.ContainsKey(header.WorkerId))
            throw ShardException.Invalid($"worker {header.WorkerId} is not on node {_node.Label} (workers {string.Join(",", _node.Workers)}); it pushes to the shards directly");
        if (_combining == PushCombining.EqualCodeRows && header.CodeRow != header.WorkerId)
            throw ShardException.Invalid($"coded push of worker {header.WorkerId} has code_row {header.CodeRow?.ToString() ?? "none"}");
    }

    /// <summary>Every worker of the batch's group that is expected for its step has pushed (coded: the first one has).</summary>
    private bool IsComplete(Batch batch)
    {
        if (_combining == PushCombining.EqualCodeRows) return true;
        var forwarded = _forwarded.GetValueOrDefault(batch.Step);
        foreach (var w in _node.Workers)
            if (!_absent.Contains(w) && !batch.Workers.Contains(w) && forwarded?.Contains(w) != true) return false;
        return true;
    }

    private void GatherTimedOut(Batch batch)
    {
        int[] missing;
        lock (_gate)
        {
            if (!_open.TryGetValue((batch.Step, batch.Group), out var current) || current != batch) return;
            var forwarded = _forwarded.GetValueOrDefault(batch.Step);
            missing = _node.Workers.Where(w => !_absent.Contains(w) && !batch.Workers.Contains(w) && forwarded?.Contains(w) != true).ToArray();
            _absent.UnionWith(missing);
            _gatherTimeouts++;
            Seal(batch);
        }
        _log.Warning("Node {Node} shard {Shard} step {Step}: workers {Missing} did not push within {GatherMs} ms; forwarding the sum of {Workers} and not waiting for them until they push again",
            _node.Label, Info.Index, batch.Step, missing, _gatherTimeout.TotalMilliseconds, batch.Workers);
        _ = ForwardAsync(batch);
    }

    /// <summary>Closes the batch to new pushes and records its workers as forwarded for its step (under the lock).</summary>
    private void Seal(Batch batch)
    {
        _open.Remove((batch.Step, batch.Group));
        if (!_forwarded.TryGetValue(batch.Step, out var forwarded)) _forwarded[batch.Step] = forwarded = [];
        forwarded.UnionWith(batch.Workers);
        if (_combining == PushCombining.EqualCodeRows) _sent[(batch.Step, batch.Group)] = batch.Done.Task;
        // Steps close in order and a node's workers are at most a step or two apart: older bookkeeping is never asked for.
        foreach (var old in _forwarded.Keys.Where(s => s < batch.Step - 8).ToList()) _forwarded.Remove(old);
        foreach (var old in _sent.Keys.Where(k => k.Step < batch.Step - 8).ToList()) _sent.Remove(old);
    }

    /// <summary>Sends a sealed batch upstream and answers its workers; never throws.</summary>
    private async Task ForwardAsync(Batch batch)
    {
        batch.Timer?.Dispose();
        var contributors = new ContributorList(batch.Workers);
        var header = new PushHeader(batch.Workers[0], batch.Step, Info.Index, batch.Samples, batch.Loss,
            CodeRow: _combining == PushCombining.EqualCodeRows ? batch.Workers[0] : null, Contributors: contributors);
        try
        {
            var outcome = await _upstream.PushAsync(header, batch.Values, CancellationToken.None, _upstreamTimeout).ConfigureAwait(false);
            Interlocked.Increment(ref _messages);
            Interlocked.Add(ref _bytesForwarded, (long)batch.Values.Length * sizeof(float));
            if (outcome.Kind == PushOutcomeKind.Duplicate && batch.Workers.Count > 1)
                throw new ShardException(ShardErrorKind.Unavailable,
                    $"shard {Info.Index} already holds a push of one of workers {contributors} for step {batch.Step} ({outcome.Reason}); each pushes directly");
            _log.Debug("Node {Node} forwarded step {Step} of workers {Workers} to shard {Shard}: {Outcome}", _node.Label, batch.Step, contributors.ToString(), Info.Index, outcome);
            batch.Done.TrySetResult(outcome);
        }
        catch (Exception e)
        {
            var failure = e as ShardException ?? new ShardException(ShardErrorKind.Unavailable, $"node aggregator {_node.Label}: upstream push failed: {e.Message}", e);
            _log.Warning("Node {Node} could not forward step {Step} of workers {Workers} to shard {Shard}: {Reason}; they push directly",
                _node.Label, batch.Step, contributors.ToString(), Info.Index, failure.Message);
            batch.Done.TrySetException(failure.Kind == ShardErrorKind.InvalidRequest
                ? failure
                : new ShardException(ShardErrorKind.Unavailable, failure.Message, failure));
        }
        finally
        {
            batch.Release();
        }
    }

    private ShardException Refused(string what) =>
        ShardException.Invalid($"this is node {_node.Label}'s aggregator for shard {Info.Index}: it takes pushes only; {what}");

    private static bool SameRow(Core.Coding.IGradientCode code, int a, int b)
    {
        for (int j = 0; j < code.Partitions; j++)
            if (code[a, j] != code[b, j]) return false;
        return true;
    }

    /// <summary>The pushes of one group for one step: their sum (or, coded, the group's one vector), rows and losses.</summary>
    private sealed class Batch(long step, int group, int length)
    {
        private float[]? _values = ArrayPool<float>.Shared.Rent(length);

        public long Step { get; } = step;
        public int Group { get; } = group;
        public List<int> Workers { get; } = [];
        public long Samples { get; private set; }
        public double Loss { get; private set; }
        public ITimer? Timer { get; set; }
        public TaskCompletionSource<PushOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ReadOnlyMemory<float> Values => _values.AsMemory(0, length);

        public void Add(in PushHeader header, ReadOnlySpan<float> values)
        {
            var sum = _values.AsSpan(0, length);
            if (Workers.Count == 0) values.CopyTo(sum);
            else TensorPrimitives.Add(sum, values, sum);
            Workers.Add(header.WorkerId);
            Samples += header.SampleCount;
            Loss += header.LossSum;
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _values, null) is { } values) ArrayPool<float>.Shared.Return(values);
        }
    }
}
