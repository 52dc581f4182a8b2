using System.Diagnostics;
using GpuPs.Core.Data;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Heterogeneity;
using GpuPs.Worker.Stragglers;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// The worker loop: join the job through a <see cref="ShardedParameterClient"/>, load the data partitions the mode's
/// assignment gives this worker onto the compute device, then per step pull parameters → compute and push
/// (<see cref="StepComputation"/>, by the mode's push policy). Transport, retries and liveness are the client's;
/// straggler injection is a step hook.
/// </summary>
/// <remarks>
/// <para>Never do work for nothing: in the step-synchronous modes, where the push is not fused with the next pull (see
/// <see cref="RunSynchronousAsync"/>), the pull of step t+1 is issued while step t computes; if it returns first, the
/// servers closed step t without this worker (a straggler), so the worker abandons step t at once — remaining
/// partitions and injected delay are cancelled — and moves on.</para>
/// <para>One worker per instance; <see cref="RunAsync"/> is called once.</para>
/// </remarks>
public sealed class TrainingWorker : IAsyncDisposable
{
    private readonly WorkerOptions _options;
    private readonly IComputeBackend _backend;
    private readonly ShardedParameterClient _client;

    /// <summary>Times a worker rejoins shards that restarted before it treats the next restart as a failure.</summary>
    public const int MaxRejoins = 10;

    /// <summary>Steps a worker the shards left more than a step behind pulls separately (and can abandon a step) before it fuses again.</summary>
    public const int PrefetchStepsAfterLate = 8;

    /// <summary>
    /// How many ranges a wavefront worker's push may run ahead of the last range closed (<see cref="ShardedClientOptions.RangesAhead"/>):
    /// two, as the pull link's credit holds two ranges, so the pull of the range that frees the next push is already waiting on the shard.
    /// </summary>
    public const int WavefrontRangesAhead = 2;

    private readonly Func<Registration, IWorkerStepHook>? _stepHook;
    private ILogger _log;

    /// <param name="options">The servers to join and the call deadlines and retries.</param>
    /// <param name="backend">The compute device; it stays the caller's, to dispose after the worker.</param>
    /// <param name="log">Where the worker logs; every line carries its worker id once it has one.</param>
    /// <param name="connect">Opens the connection to the shard at an address (<see cref="GrpcShardClient.Connect"/>).</param>
    /// <param name="stepHook">Shapes each step (null: the job's straggler model, <see cref="StragglerStepHook"/>).</param>
    public TrainingWorker(WorkerOptions options, IComputeBackend backend, ILogger log, Func<string, ShardConnection> connect,
        Func<Registration, IWorkerStepHook>? stepHook = null)
    {
        if (options.Servers.Count == 0) throw new ArgumentException("a worker needs at least one server address");
        _options = options;
        _backend = backend;
        _log = log;
        _stepHook = stepHook;
        _client = new ShardedParameterClient(options.Servers.Select(connect).ToArray(), new ShardedClientOptions(options.CallTimeout, options.MaxRetries)
            {
                PushLogSteps = options.PushLogSteps, Pieces = options.Pieces,
                RangesAhead = options.Overlap == ComputeOverlap.Wavefront ? WavefrontRangesAhead : 0,
            }, log);
    }

    /// <summary>Runs the job to its end (or until cancelled) and returns what this worker did.</summary>
    public async Task<WorkerReport> RunAsync(CancellationToken cancellationToken)
    {
        var request = new RegisterRequest
        {
            RequestedWorkerId = _options.RequestedWorkerId, Host = _options.Host, Device = _backend.DeviceName,
            ClientToken = $"{_options.Host}/{Environment.ProcessId}/{Guid.NewGuid():N}",
        };
        var joined = await _client.RegisterAsync(request, cancellationToken).ConfigureAwait(false);
        var (workerId, job) = (joined.WorkerId, joined.Job);
        _log = _log.ForContext("WorkerId", workerId);
        var mode = job.Mode;
        var stragglers = StragglerInjector.Parse(job.StragglerModel, job.Workers, job.Seed);

        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        using var kernel = _backend.CreateGradientKernel(job.Model);
        var report = new WorkerReport(workerId, _backend.DeviceName);
        var hook = _stepHook?.Invoke(joined) ?? new StragglerStepHook(stragglers, workerId);
        var follower = job.Assignment.BySpeed()
            ? new AssignmentFollower(job, workerId, data.Train, kernel, hook, _client, report, _log) : null;
        PartitionPlan plan;
        if (follower is null)
        {
            plan = new PartitionPlan(data.Train, mode.Assignment(job), workerId, job.BatchSize);
            kernel.SetData(plan.Data.Features, plan.Data.Labels);
        }
        else plan = await follower.JoinAsync(joined.Step, cancellationToken).ConfigureAwait(false);
        _log.Information("Worker {WorkerId} holds partitions {Partitions} ({Rows} rows) of {Dataset} on {Device}; {Mode} from step {Step}; {Stragglers}",
            workerId, plan.Held, plan.Data.Rows, job.Dataset, _backend.DeviceName, mode.Name, joined.Step, stragglers.Describe());

        var pacer = job.Schedule == PushSchedule.RoundRobin ? new PushPacer(_client, report, _log) : null;
        bool wavefront = _options.Overlap == ComputeOverlap.Wavefront;
        var step = new StepComputation(plan, kernel, mode.CreatePushPolicy(plan, workerId), hook, _client, report, _log, job.WireFormat, pacer, job.Compression,
            wavefront && mode.ClosesPerRange);
        if (wavefront)
        {
            string? refusal = mode.ClosesPerRange ? step.WavefrontRefusal() : $"the wavefront is for BSP, and the job runs {mode.Name}";
            if (refusal is null) _log.Information("Worker {WorkerId} computes as a wavefront: each piece is pushed as soon as its gradient block is done", workerId);
            else _log.Warning("Worker {WorkerId} computes whole gradients despite --overlap wavefront: {Reason}", workerId, refusal);
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeats = _client.KeepAliveAsync(() => step.Current, stop.Token);
        try
        {
            long from = joined.Step;
            for (int rejoins = 0; ; rejoins++)
            {
                try
                {
                    await (mode.IsStepSynchronous
                        ? RunSynchronousAsync(step, follower, report, from, job.Steps, mode.ToleratesStragglers, stop.Token)
                        : RunAsynchronousAsync(step, report, from, job.Steps, stop.Token)).ConfigureAwait(false);
                    break;
                }
                catch (ShardException e) when (e.Kind == ShardErrorKind.UnknownWorker && rejoins < MaxRejoins && !stop.IsCancellationRequested)
                {
                    // A shard that no longer knows this worker restarted (from a checkpoint, or from scratch): join it again
                    // under the same id and go on from the step it resumes at.
                    _log.Warning("A shard no longer knows worker {WorkerId} ({Reason}): it restarted; rejoining", workerId, e.Message);
                    request.RequestedWorkerId = workerId;
                    from = (await _client.RegisterAsync(request, stop.Token).ConfigureAwait(false)).Step;
                    _log.Information("Worker {WorkerId} rejoined at step {Step}", workerId, from);
                }
            }
        }
        finally
        {
            stop.Cancel();
            await heartbeats.ConfigureAwait(false);
            report.BytesPulled = _client.BytesPulled;
        }
        _log.Information("Worker {WorkerId} finished: {Steps} steps pushed, {Abandoned} abandoned, {Dropped} pushes dropped (compute {Compute:F2} s, pull {Pull:F2} s, push {Push:F2} s)",
            workerId, report.Steps, report.StepsAbandoned, report.PushesDropped, report.ComputeSeconds, report.PullSeconds, report.PushSeconds);
        return report;
    }

    /// <summary>
    /// ASP/SSP: pull the latest parameters (SSP: the server holds the pull while this worker is too far ahead), compute,
    /// push. With a fused push-pull the push brings the next step's parameters back (the pull that would follow it).
    /// </summary>
    private async Task RunAsynchronousAsync(StepComputation computation, WorkerReport report, long step, long steps, CancellationToken ct)
    {
        var parameters = new float[_client.Layout.Sum(s => s.Length)];
        var fused = _options.FusedPushPull ? new FusedPull(sameStep: false) : null;
        PulledParameters? ready = null;
        double readyPull = 0;
        for (; step < steps; step++)
        {
            PulledParameters pulled;
            double pull;
            if (ready is { } came)
            {
                (pulled, pull) = (came, readyPull);
                report.FusedPulls++;
            }
            else
            {
                var watch = Stopwatch.StartNew();
                pulled = await _client.PullAsync(0, parameters, ct).ConfigureAwait(false);
                pull = watch.Elapsed.TotalSeconds;
            }
            report.PullSeconds += pull;
            if (pulled.Finished) return;
            // The pull lands in the parameters just computed on: the push that carries it comes after the compute.
            fused?.Aim(0, parameters);
            if (await computation.RunAsync(step, parameters, ct, ct, pull, fused).ConfigureAwait(false)) return;
            (ready, readyPull) = (fused?.Pulled, fused?.PullSeconds ?? 0);
        }
    }

    /// <summary>
    /// BSP, backup, coded, multi-message: where the push can be fused (one push per step, the TCP data plane), step t−1's
    /// push brings step t's parameters back, in one round trip. Otherwise parameters of step t are pulled while step t−1
    /// computes; when they arrive before step t−1 was pushed, t−1 closed without this worker and is abandoned. A fused
    /// step cannot be abandoned, so where steps close without their stragglers (<paramref name="tolerant"/>: backup,
    /// coded) a step is fused only once the last one's work took no longer than its push's round trip — abandoning it
    /// could save less than fusing does; longer work (real compute, an injected delay) keeps the abandoning prefetch.
    /// A worker whose fused push came too late and that the shards left more than a step behind (a straggler, or a BSP
    /// worker evicted meanwhile) pulls separately and prefetches for the next <see cref="PrefetchStepsAfterLate"/> steps.
    /// </summary>
    private async Task RunSynchronousAsync(StepComputation computation, AssignmentFollower? follower, WorkerReport report, long step, long steps,
        bool tolerant, CancellationToken ct)
    {
        var current = new float[_client.Layout.Sum(s => s.Length)];
        var next = new float[current.Length];
        var watch = Stopwatch.StartNew();
        var pulled = await _client.PullAsync(step, current, ct, sameStep: true).ConfigureAwait(false);
        var pull = watch.Elapsed.TotalSeconds;
        report.PullSeconds += pull;
        var fused = _options.FusedPushPull ? new FusedPull(sameStep: true) : null;
        long fuseFrom = 0;
        while (!pulled.Finished && pulled.Step < steps)
        {
            step = pulled.Step;
            if (follower is not null) await follower.BeforeStepAsync(step, computation, ct).ConfigureAwait(false);
            if (fused is not null && step >= fuseFrom && computation.CanFuse && (!tolerant || computation.LastWorkSeconds <= computation.LastPushSeconds))
            {
                fused.Aim(step + 1, next);
                await computation.RunAsync(step, current, ct, ct, pull, fused).ConfigureAwait(false);
                if (fused.Pulled is { } came)
                {
                    (pulled, pull) = (came, fused.PullSeconds);
                    report.FusedPulls++;
                }
                else
                {
                    // Refused (late, or the job finished), or a shard could not answer the pull part: pull separately. A
                    // worker the shards left more than a step behind straggles: it prefetches, abandoning the steps that
                    // close without it, for a while. One that was merely among the last of its step (backup, coded) fuses on.
                    watch.Restart();
                    pulled = await _client.PullAsync(step + 1, next, ct, sameStep: true).ConfigureAwait(false);
                    pull = watch.Elapsed.TotalSeconds;
                    if (pulled.Step > step + 1) fuseFrom = pulled.Step + PrefetchStepsAfterLate;
                }
            }
            else
            {
                using var abandon = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var prefetch = _client.PullAsync(step + 1, next, ct, sameStep: true);
                _ = prefetch.ContinueWith(_ => abandon.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                try
                {
                    await computation.RunAsync(step, current, abandon.Token, ct, pull).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (abandon.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    report.StepsAbandoned++;
                    _log.Debug("Worker {WorkerId} abandoned step {Step}: it closed without this worker", _client.WorkerId, step);
                }
                watch.Restart();
                pulled = await prefetch.ConfigureAwait(false);
                pull = watch.Elapsed.TotalSeconds;
            }
            report.PullSeconds += pull;
            (current, next) = (next, current);
        }
    }

    /// <summary>
    /// Closes the connections to every shard. The compute backend is the caller's and stays open.
    /// </summary>
    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
