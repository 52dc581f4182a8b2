using System.Diagnostics;
using GpuPs.Core.Compression;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Compression;
using GpuPs.Worker.Scheduling;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// One worker's step: compute the gradient of each held partition's batch with the kernel and push what the mode's
/// <see cref="IWorkerPushPolicy"/> says — one weighted sum per step (plain, coded: the encode c_i = Σ_j B[i,j] g_j is
/// fused into the kernel's scaled accumulation), or one message per partition while the next one computes
/// (multi-message). The parameters go to the device once per step and the gradient accumulates there: one download per
/// message. With a bfloat16 wire format or a compressed push each message is rounded with error feedback
/// (<see cref="BFloat16ErrorFeedback"/>, <see cref="CompressionErrorFeedback"/>) just before it is pushed, and the
/// rounding's time is reported apart (<see cref="WorkerReport.CompressSeconds"/>). In a round-robin job every push waits for its turns on the shards' links, and its latency (turn waits and a fused pull's wait apart) goes to the <see cref="PushPacer"/>.
/// With <c>wavefront</c> (where <see cref="WavefrontRefusal"/> finds nothing against it) the backward pass is computed block
/// by block in the order the push's pieces go, and each piece leaves as soon as its block is computed: the compute of
/// the later blocks overlaps the push of the earlier ones (<see cref="ComputeWavefrontAsync"/>).
/// Owns the message buffers; one instance per worker loop, not thread-safe.
/// </summary>
public sealed class StepComputation(
    PartitionPlan plan, IGradientKernel kernel, IWorkerPushPolicy policy, IWorkerStepHook hook,
    ShardedParameterClient client, WorkerReport report, ILogger log, TensorEncoding wireFormat = TensorEncoding.Float32,
    PushPacer? pacer = null, CompressionSettings? compression = null, bool wavefront = false)
{
    private readonly float[][] _buffers = new float[policy.PushesEachPartition ? plan.Held.Count : 1][];
    private readonly TensorEncoding _encoding = compression is { Push: not CompressionKind.None } c
        ? new TensorCompressor(c.Push, c).Encoding : wireFormat;
    private IErrorFeedback? _feedback;
    private long _encodeTicks;   // this step's, for its timeline, in Stopwatch ticks: a small message reads in well under a TimeSpan's 100 ns
    private long _compressTicks;   // the rounding part of _encodeTicks
    private long _stepEnded;   // when the last step's push was answered or the step abandoned (0: no step yet): the next one begins there

    /// <summary>The step being computed (reported in heartbeats).</summary>
    public long Current { get; private set; }

    /// <summary>
    /// Whether a step's push can carry the pull that follows it (<see cref="FusedPull"/>): one push per step, no push
    /// slots (a round-robin job's push latencies feed its schedule, and a slot wait is no place to hold a pull), and full
    /// pulls (a compressed pull names its copy's version), whole tensors (no pieces). Otherwise the caller pulls separately.
    /// </summary>
    public bool CanFuse => FusesWholePulls && pacer is null;

    /// <summary>One whole push a step, every shard's plane fuses, full pulls: the push can carry a pull.</summary>
    private bool FusesWholePulls => client.CanFuse && !policy.PushesEachPartition && compression is not { Pull: not CompressionKind.None };

    /// <summary>
    /// Whether the step's push carries <paramref name="fused"/>: where <see cref="CanFuse"/>, and in a round-robin job
    /// with per-push updates (ASP, SSP: a pull of no particular step, answered once the push is applied), where the
    /// worker takes the fresh parameters back with its push and computes while the next workers take their turns.
    /// </summary>
    private bool Fuses(FusedPull? fused) => fused is not null && FusesWholePulls && (pacer is null || !fused.SameStep);

    /// <summary>
    /// How long the last step's work took, from its parameters to its push (compute, injected delay, encode) or to its
    /// abandonment, in seconds: what abandoning that step could have saved. Infinite until a step was computed: a
    /// worker that knows nothing of its steps yet assumes they are long (a straggler's first step stays abandonable).
    /// </summary>
    public double LastWorkSeconds { get; private set; } = double.PositiveInfinity;

    /// <summary>How long the last push took until every shard answered it (a fused one: until its answer was ready), in seconds.</summary>
    public double LastPushSeconds { get; private set; }

    /// <summary>
    /// Why this worker's steps cannot be computed as a wavefront (null: they can): it needs a kernel that computes in
    /// blocks (the MLP), one partition pushed as one sum a step (plain BSP), pushes in pieces (the blocks are the pieces)
    /// and float32 pushes (bfloat16 rounding and compression work on the whole message).
    /// </summary>
    public string? WavefrontRefusal() =>
        !kernel.ComputesBlocks ? $"a {kernel.Shape.Kind} gradient is not computed in blocks (only the MLP's is)"
        : policy.PushesEachPartition || plan.Held.Count != 1 ? $"the worker pushes {plan.Held.Count} partitions{(policy.PushesEachPartition ? " one by one" : "")}, not one"
        : !client.PushesInPieces ? "pushes are not in pieces (--piece-size)"
        : _encoding != TensorEncoding.Float32 ? $"pushes are encoded {_encoding}, which rounds the whole message"
        : null;

    /// <summary>The partitions it computes on.</summary>
    public PartitionPlan Plan => plan;

    /// <summary>
    /// Computes over <paramref name="next"/> with <paramref name="nextPolicy"/> from the next step on: a rebalanced
    /// assignment, whose rows the caller has loaded onto the kernel. Between steps only.
    /// </summary>
    /// <exception cref="ArgumentException">The new policy pushes per partition where the old one did not, or the other way round.</exception>
    public void Replan(PartitionPlan next, IWorkerPushPolicy nextPolicy)
    {
        if (nextPolicy.PushesEachPartition != policy.PushesEachPartition || nextPolicy.PushesEachPartition)
            throw new ArgumentException("only a step-sum push policy can be replanned (its message buffer does not depend on the partitions)");
        (plan, policy) = (next, nextPolicy);
    }

    /// <summary>
    /// Computes this worker's contribution to <paramref name="step"/> on <paramref name="parameters"/> (cancelled by
    /// <paramref name="computeCancelled"/>: the step closed without it) and pushes it (cancelled by
    /// <paramref name="pushCancelled"/>); returns true when a shard says the job finished. A push already under way when
    /// the compute is cancelled is awaited, not cancelled: it either closes the step or is refused on its first chunk.
    /// </summary>
    /// <param name="step">The step.</param>
    /// <param name="parameters">Its parameters.</param>
    /// <param name="computeCancelled">Cancelled when the step closed without this worker.</param>
    /// <param name="pushCancelled">Cancels the push.</param>
    /// <param name="pullSeconds">How long the worker waited for <paramref name="parameters"/>, for the step's timeline.</param>
    /// <param name="fused">The pull to fuse into the step's push where <see cref="CanFuse"/> (aimed by the caller); its
    /// answer says whether it came. The wait after the push's answer is the next step's pull time, not this one's push.</param>
    public async Task<bool> RunAsync(long step, float[] parameters, CancellationToken computeCancelled, CancellationToken pushCancelled, double pullSeconds = 0,
        FusedPull? fused = null)
    {
        int load = plan.Held.Count;
        long started = Stopwatch.GetTimestamp();
        double startedAt = (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;
        long began = _stepEnded != 0 ? _stepEnded : started - (long)(pullSeconds * Stopwatch.Frequency);
        Current = step;
        if (load == 0) return false;   // a zero share (proportional BSP): nothing to compute, no push is waited for
        (_encodeTicks, _compressTicks) = (0, 0);
        hook.BeginStep(step, load);
        pacer?.BeginStep(step, pushCancelled);
        var compute = TimeSpan.Zero;
        var delay = TimeSpan.Zero;
        var pushes = new List<Task<bool>>();
        double stepLoss = 0;
        long loading = Stopwatch.GetTimestamp();
        kernel.LoadParameters(parameters);
        var upload = Stopwatch.GetElapsedTime(loading);
        bool inBlocks = wavefront && WavefrontRefusal() is null;
        try
        {
            if (inBlocks)
            {
                var blocks = await ComputeWavefrontAsync(step, pushes, computeCancelled, pushCancelled).ConfigureAwait(false);
                (compute, delay) = (blocks.Compute, blocks.Delay);
                LastWorkSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
            for (int h = 0; h < load && !inBlocks; h++)
            {
                computeCancelled.ThrowIfCancellationRequested();
                var watch = Stopwatch.StartNew();
                // A throttled worker's extra runs discard their gradient: the accumulator may hold earlier partitions.
                for (int run = 1; run < hook.ComputeRuns; run++)
                    foreach (var range in plan.Batch(h, step)) kernel.ComputeAndDiscardGradient(range.Start, range.Count);
                double loss = 0;
                foreach (var range in plan.Batch(h, step)) loss += kernel.AddGradient(range.Start, range.Count, policy.Weight(h));
                compute += watch.Elapsed;
                if (policy.PushesEachPartition) ReadGradient(h);
                long waited = Stopwatch.GetTimestamp();
                await hook.AfterPartitionAsync(computeCancelled).ConfigureAwait(false);
                delay += Stopwatch.GetElapsedTime(waited);
                if (policy.PushesEachPartition)
                    pushes.Add(PushAsync(policy.Header(step, h, loss), h, pushCancelled));
                else
                    stepLoss += policy.Weight(h) * loss;
            }
        }
        catch (Exception e) when (pushes.Count > 0 || e is OperationCanceledException)
        {
            // Abandoned mid-step: the coordinator still hears from this worker (and gives it its slot), and the messages
            // already sent end before their buffers are reused.
            LastWorkSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            pacer?.EndStep();
            await Task.WhenAll(pushes).ConfigureAwait(false);
            _stepEnded = Stopwatch.GetTimestamp();   // an abandoned step's time is in no step's phases
            throw;
        }
        if (!policy.PushesEachPartition && !inBlocks)
        {
            ReadGradient(0);
            LastWorkSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            pushes.Add(PushAsync(policy.Header(step, null, stepLoss), 0, pushCancelled, Fuses(fused) ? fused : null));
        }
        hook.EndStep(compute);
        report.ComputeSeconds += compute.TotalSeconds;

        var pushWatch = Stopwatch.StartNew();
        var finished = await Task.WhenAll(pushes).ConfigureAwait(false);
        // A fused push's phase ends with its answer, which came before the pull it carries: the wait after it is the next
        // step's pull, whose phase starts there.
        long answeredAt = fused?.PushAnsweredAt ?? 0;
        _stepEnded = answeredAt != 0 ? answeredAt : Stopwatch.GetTimestamp();
        // In seconds, not a TimeSpan: TimeSpan.FromSeconds rounds to 100 ns ticks, and the fused push's latency (reported
        // beside it) must be the same number.
        double push = answeredAt != 0 ? fused!.PushSeconds : pushWatch.Elapsed.TotalSeconds;
        report.PushSeconds += push;
        report.Steps++;
        double encode = (double)_encodeTicks / Stopwatch.Frequency;
        var phases = new WorkerStepPhases(step, pullSeconds, compute.TotalSeconds, encode, push, startedAt, upload.TotalSeconds,
            (double)_compressTicks / Stopwatch.Frequency, delay.TotalSeconds, (double)(_stepEnded - began) / Stopwatch.Frequency);
        report.RecordStep(phases);
        if (log.IsEnabled(Serilog.Events.LogEventLevel.Debug))
            log.Debug("Worker {WorkerId} step {Step} timeline: pull {PullMs:F3} ms, load {LoadMs:F3} ms, compute {ComputeMs:F3} ms, delay {DelayMs:F3} ms, encode {EncodeMs:F3} ms, push {PushMs:F3} ms; step {WallMs:F3} ms, other {OtherMs:F3} ms",
                client.WorkerId, step, pullSeconds * 1e3, upload.TotalMilliseconds, compute.TotalMilliseconds, delay.TotalMilliseconds, encode * 1e3, push * 1e3,
                phases.WallSeconds * 1e3, phases.OtherSeconds * 1e3);
        pacer?.EndStep();
        return finished.Any(f => f);
    }

    /// <summary>
    /// The wavefront: the forward pass and the hidden deltas of the batch (<see cref="IGradientKernel.AddBlockRows"/>),
    /// the injected delay, then the push started with a <see cref="ComputedPrefix"/> and the gradient computed piece by
    /// piece in the order the pieces go (<see cref="ShardedParameterClient.PushPieces"/>), each released to the push as it
    /// is done. Pieces are released one by one only where the rows' magnitude bound proves the whole push finite and
    /// within <see cref="Core.Aggregation.GradientLimits"/>; otherwise (a diverging model) every block is computed first
    /// and the push checked whole, so a bad push is refused before any piece leaves, as without the wavefront. A compute
    /// that stops (the step abandoned, a fault) stops the push before its next piece: the pieces already sent are its
    /// step's (a BSP step abandoned has closed without them), and the push is awaited before the exception goes on, so
    /// the message buffer is free for the next step.
    /// </summary>
    private async Task<(TimeSpan Compute, TimeSpan Delay)> ComputeWavefrontAsync(long step, List<Task<bool>> pushes, CancellationToken computeCancelled,
        CancellationToken pushCancelled)
    {
        computeCancelled.ThrowIfCancellationRequested();
        var watch = Stopwatch.StartNew();
        for (int run = 1; run < hook.ComputeRuns; run++)
            foreach (var range in plan.Batch(0, step)) kernel.ComputeAndDiscardGradient(range.Start, range.Count);
        var rows = new BlockRows(0, 0);
        foreach (var range in plan.Batch(0, step)) rows += kernel.AddBlockRows(range.Start, range.Count);
        var compute = watch.Elapsed;
        long waited = Stopwatch.GetTimestamp();
        await hook.AfterPartitionAsync(computeCancelled).ConfigureAwait(false);
        var delay = Stopwatch.GetElapsedTime(waited);
        float weight = policy.Weight(0);
        var header = policy.Header(step, null, weight * rows.LossSum);
        double bound = rows.GradientBound * Math.Abs(weight);
        bool releaseEach = header.SampleCount < 1 || double.IsFinite(bound) && bound / header.SampleCount <= Core.Aggregation.GradientLimits.MaxMeanGradient;
        var gradient = Buffer(0);
        var computed = new ComputedPrefix();
        var push = PushAsync(header, 0, pushCancelled, computed: computed);
        pushes.Add(push);
        try
        {
            watch.Restart();
            foreach (var piece in client.PushPieces!)
            {
                computeCancelled.ThrowIfCancellationRequested();
                kernel.ReadGradientBlock(piece.Offset, gradient.AsSpan(piece.Offset, piece.Length), weight);
                if (releaseEach) computed.Advance(piece.End);
            }
            if (!releaseEach) Core.Aggregation.GradientLimits.Check(gradient, header.SampleCount);
            computed.Advance(gradient.Length);
            return (compute + watch.Elapsed, delay);
        }
        catch (Exception e)
        {
            computed.Stop(e as OperationCanceledException ?? new OperationCanceledException("the step's compute stopped", e));
            pushes.Remove(push);
            await push.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Pushes one message to every shard (in a round-robin job, each once the shard granted its turn: a step that closes
    /// meanwhile answers it late, and nothing is sent) and counts what they did with it; true when the job finished.
    /// </summary>
    private async Task<bool> PushAsync(PushHeader header, int slot, CancellationToken ct, FusedPull? fused = null, ComputedPrefix? computed = null)
    {
        var gradient = Buffer(slot);
        if (_encoding != TensorEncoding.Float32)
        {
            long start = Stopwatch.GetTimestamp();
            (_feedback ??= CreateFeedback(gradient.Length)).Round(slot, gradient);
            long rounding = Stopwatch.GetTimestamp() - start;
            report.AddCompressSeconds((double)rounding / Stopwatch.Frequency);
            _encodeTicks += rounding;
            _compressTicks += rounding;
        }
        pacer?.Pushing();
        var outcomes = await TimedPushAsync(header, gradient, ct, fused, computed).ConfigureAwait(false);
        for (int shard = 0; shard < outcomes.Count; shard++)
        {
            var outcome = outcomes[shard];
            if (outcome.IsApplied)
            {
                var slice = client.Layout[shard];
                report.AddBytesPushed(TensorCodec.EncodedBytes(_encoding, gradient.AsSpan((int)slice.Offset, (int)slice.Length)));
                continue;
            }
            // Refused on its first chunk: its tensor (mostly) never crossed the network, so its bytes are not counted.
            report.CountDroppedPush();
            log.Debug("Worker {WorkerId} push of step {Step} to shard {Shard} dropped: {Reason}", header.WorkerId, header.Step, shard, outcome.Reason);
        }
        return outcomes.Any(o => o.JobFinished);
    }

    /// <summary>
    /// One push to every shard (with <paramref name="fused"/>, and the pull that follows; with <paramref name="computed"/>,
    /// of a gradient still being computed), its latency recorded.
    /// </summary>
    private async Task<IReadOnlyList<PushOutcome>> TimedPushAsync(PushHeader header, float[] gradient, CancellationToken ct, FusedPull? fused = null,
        ComputedPrefix? computed = null)
    {
        long start = Stopwatch.GetTimestamp();
        var wait = new TurnWait();
        if (fused is not null)
        {
            var answer = await client.PushPullAsync(header, gradient, fused.MinStep, fused.Destination, ct, _encoding, fused.SameStep, wait).ConfigureAwait(false);
            fused.Answered(answer.Pulled, start, answer.PushAnsweredAt);
            RecordPush(fused.PushSeconds, wait);   // until the shards answered the push: the pull's wait for its step is not in it
            return answer.Outcomes;
        }
        try
        {
            return await client.PushAsync(header, gradient, ct, _encoding, wait, computed).ConfigureAwait(false);
        }
        finally
        {
            RecordPush(Stopwatch.GetElapsedTime(start).TotalSeconds, wait);
        }
    }

    /// <summary>
    /// Records a push that took <paramref name="seconds"/> from its first byte: a round-robin push's own wait for its
    /// turns (<paramref name="wait"/>) is reported apart, and the rest is its latency, in the report and to the coordinator.
    /// </summary>
    private void RecordPush(double seconds, TurnWait wait)
    {
        double waited = wait.Seconds, latency = Math.Max(0, seconds - waited);
        report.AddTurnWait(waited);
        report.RecordPushLatency(LastPushSeconds = latency);
        pacer?.Pushed(latency);
    }

    /// <summary>The error feedback of the job's lossy push encoding, over messages of <paramref name="length"/> values.</summary>
    private IErrorFeedback CreateFeedback(int length) => compression is { Push: not CompressionKind.None } c
        ? new CompressionErrorFeedback(_buffers.Length, length, new TensorCompressor(c.Push, c), c.Momentum, [.. client.Layout.Select(s => (int)s.Length)])
        : new BFloat16ErrorFeedback(_buffers.Length, length);

    /// <summary>Reads the accumulated gradient off the device into message buffer <paramref name="slot"/>, timed as encode.</summary>
    private void ReadGradient(int slot)
    {
        long start = Stopwatch.GetTimestamp();
        kernel.ReadGradient(Buffer(slot));
        _encodeTicks += Stopwatch.GetTimestamp() - start;
    }

    private float[] Buffer(int i) => _buffers[i] ??= new float[kernel.Shape.ParameterCount];
}
