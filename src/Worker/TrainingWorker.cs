using System.Diagnostics;
using Grpc.Core;
using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Stragglers;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// The worker loop: register with every shard, load the data partitions its code row names onto the compute device,
/// then per step pull parameters → compute (and, in coded mode, encode) gradients with the kernels → push to each shard.
/// </summary>
/// <remarks>
/// <para>Push shape by mode: BSP/ASP/SSP/backup push one plain gradient sum; coded pushes one coded vector
/// c_i = Σ_j B[i,j] g_j (encoded on the device by the fused scale/accumulate of the gradient kernel); multi-message
/// pushes one message per finished partition, while the next partition computes.</para>
/// <para>Never do work for nothing: in the step-synchronous modes the pull of step t+1 is issued while step t computes;
/// if it returns first, the servers closed step t without this worker (a straggler), so the worker abandons step t at
/// once — remaining partitions and injected delay are cancelled — and moves on. A push already under way is not
/// cancelled: it either closes the step or is refused by the server on its first chunk, before its tensor is sent.</para>
/// <para>One worker per instance; <see cref="RunAsync"/> is called once. Transient failures (server unreachable) are
/// retried with backoff; a push refused because its step closed meanwhile is dropped.</para>
/// </remarks>
public sealed class TrainingWorker : IAsyncDisposable
{
    private readonly WorkerOptions _options;
    private readonly IComputeBackend _backend;
    private readonly IShardClient[] _shards;
    private readonly RetryPolicy _retry;
    private readonly long[] _lastHeartbeatMs;   // per shard: when it last answered a heartbeat
    private int _heartbeatTimeoutMs = int.MaxValue;
    private ILogger _log;

    public TrainingWorker(WorkerOptions options, IComputeBackend backend, ILogger log, Func<string, IShardClient> connect)
    {
        if (options.Servers.Count == 0) throw new ArgumentException("a worker needs at least one server address");
        _options = options;
        _backend = backend;
        _log = log;
        _retry = new RetryPolicy(options.MaxRetries, log);
        _shards = options.Servers.Select(connect).ToArray();
        _lastHeartbeatMs = _shards.Select(_ => Environment.TickCount64).ToArray();
    }

    /// <summary>Runs the job to its end (or until cancelled) and returns what this worker did.</summary>
    public async Task<WorkerReport> RunAsync(CancellationToken cancellationToken)
    {
        var (workerId, job, shardInfos, startStep) = await RegisterAsync(cancellationToken).ConfigureAwait(false);
        _log = _log.ForContext("WorkerId", workerId);
        _heartbeatTimeoutMs = job.HeartbeatTimeoutMs;
        Array.Fill(_lastHeartbeatMs, Environment.TickCount64);
        var shape = JobSpecRules.ToModelShape(job);
        var code = JobCodes.Create(job);
        var stragglers = StragglerInjector.Parse(string.IsNullOrEmpty(job.StragglerModel) ? "none" : job.StragglerModel, job.Workers, job.Seed);

        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        var plan = new PartitionPlan(data.Train, code, workerId, job.BatchSize);
        using var kernel = _backend.CreateGradientKernel(shape);
        kernel.SetData(plan.Data.Features, plan.Data.Labels);
        _log.Information("Worker {WorkerId} holds partitions {Partitions} ({Rows} rows) of {Dataset} on {Device}; {Mode} from step {Step}; stragglers: {Stragglers}",
            workerId, plan.Held, plan.Data.Rows, job.Dataset, _backend.DeviceName, job.Mode, startStep, stragglers.Describe());

        var context = new StepContext(workerId, job, shardInfos, plan, kernel, stragglers, new WorkerReport(workerId, _backend.DeviceName));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeats = HeartbeatLoopAsync(context, stop.Token);
        try
        {
            await (job.Mode is SyncMode.Asp or SyncMode.Ssp
                ? RunAsynchronousAsync(context, startStep, stop.Token)
                : RunSynchronousAsync(context, startStep, stop.Token)).ConfigureAwait(false);
        }
        finally
        {
            stop.Cancel();
            await heartbeats.ConfigureAwait(false);
        }
        var r = context.Report;
        _log.Information("Worker {WorkerId} finished: {Steps} steps pushed, {Abandoned} abandoned, {Dropped} pushes dropped (compute {Compute:F2} s, pull {Pull:F2} s, push {Push:F2} s)",
            workerId, r.Steps, r.StepsAbandoned, r.PushesDropped, r.ComputeSeconds, r.PullSeconds, r.PushSeconds);
        return r;
    }

    /// <summary>ASP/SSP: pull the latest parameters (SSP: the server holds the pull while this worker is too far ahead), compute, push.</summary>
    private async Task RunAsynchronousAsync(StepContext s, long step, CancellationToken ct)
    {
        var parameters = new float[s.Kernel.Shape.ParameterCount];
        for (; step < s.Job.Steps; step++)
        {
            var watch = Stopwatch.StartNew();
            var pulled = await PullAllAsync(s.WorkerId, 0, s.Shards, parameters, ct).ConfigureAwait(false);
            s.Report.PullSeconds += watch.Elapsed.TotalSeconds;
            if (pulled.Any(p => p.Finished)) return;
            if (await ComputeAndPushAsync(s, step, parameters, ct, ct).ConfigureAwait(false)) return;
        }
    }

    /// <summary>
    /// BSP, backup, coded, multi-message: parameters of step t are pulled while step t−1 computes; when they arrive before
    /// step t−1 was pushed, t−1 closed without this worker and is abandoned.
    /// </summary>
    private async Task RunSynchronousAsync(StepContext s, long step, CancellationToken ct)
    {
        var current = new float[s.Kernel.Shape.ParameterCount];
        var next = new float[current.Length];
        var watch = Stopwatch.StartNew();
        var pulled = await PullAllAsync(s.WorkerId, step, s.Shards, current, ct).ConfigureAwait(false);
        s.Report.PullSeconds += watch.Elapsed.TotalSeconds;
        while (!pulled.Any(p => p.Finished) && step < s.Job.Steps)
        {
            step = pulled.Min(p => p.Step);
            using var abandon = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var prefetch = PullAllAsync(s.WorkerId, step + 1, s.Shards, next, ct);
            _ = prefetch.ContinueWith(_ => abandon.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            try
            {
                await ComputeAndPushAsync(s, step, current, abandon.Token, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                s.Report.StepsAbandoned++;
                _log.Debug("Worker {WorkerId} abandoned step {Step}: it closed without this worker", s.WorkerId, step);
            }
            watch.Restart();
            pulled = await prefetch.ConfigureAwait(false);
            // Shards close steps independently: a late worker may read shard 0 at t+1 and shard 1 at t+2. Compute only
            // on parameters of one step, the newest.
            while (!pulled.Any(p => p.Finished) && pulled.Any(p => p.Step != pulled[0].Step))
                pulled = await PullAllAsync(s.WorkerId, pulled.Max(p => p.Step), s.Shards, next, ct).ConfigureAwait(false);
            s.Report.PullSeconds += watch.Elapsed.TotalSeconds;
            (current, next) = (next, current);
        }
    }

    /// <summary>
    /// Computes this worker's contribution to <paramref name="step"/> (cancelled by <paramref name="ct"/>) and pushes it
    /// (cancelled by <paramref name="pushCt"/>); returns true when a server says the job finished.
    /// </summary>
    private async Task<bool> ComputeAndPushAsync(StepContext s, long step, float[] parameters, CancellationToken ct, CancellationToken pushCt)
    {
        var plan = s.Plan;
        int load = plan.Held.Count;
        s.CurrentStep = step;
        var delay = s.Stragglers.StepDelay(s.WorkerId, step, load, s.TypicalCompute.PerPartition);
        var compute = TimeSpan.Zero;
        var pushes = new List<Task<bool>>();
        double codedLoss = 0;
        // The step's only parameter upload; every partition's gradient accumulates on the device.
        s.Kernel.LoadParameters(parameters);
        try
        {
            for (int h = 0; h < load; h++)
            {
                ct.ThrowIfCancellationRequested();
                bool coded = s.Job.Mode == SyncMode.Coded;
                // Multi-message: each partition gets its own buffer, pushed while the next one computes.
                var gradient = s.Job.Mode == SyncMode.MultiMessage ? s.MessageBuffer(h) : s.Gradient;
                var watch = Stopwatch.StartNew();
                // A throttled worker repeats the kernel; the repeats discard their gradient, because the coded encode
                // accumulates across partitions and would otherwise add the partition `repeats` times.
                for (int repeat = 1; repeat < s.Stragglers.ComputeRepeats(s.WorkerId); repeat++)
                {
                    foreach (var range in plan.Batch(h, step)) s.Kernel.ComputeAndDiscardGradient(range.Start, range.Count);
                }
                double loss = Gradient(s, h, step, scale: coded ? plan.Weights[h] : 1f);
                if (!coded) s.Kernel.ReadGradient(gradient);
                compute += watch.Elapsed;
                if (coded) codedLoss += plan.Weights[h] * loss;
                await s.Stragglers.AfterPartitionAsync(s.WorkerId, step, load, delay, ct).ConfigureAwait(false);

                if (s.Job.Mode == SyncMode.MultiMessage)
                    pushes.Add(PushAllAsync(s, new PushHeader(s.WorkerId, step, 0, plan.BatchRowsOf(h), loss, Partition: plan.Held[h]), gradient, pushCt));
                else if (!coded)
                    pushes.Add(PushAllAsync(s, new PushHeader(s.WorkerId, step, 0, plan.BatchRowsOf(h), loss), gradient, pushCt));
            }
        }
        catch when (pushes.Count > 0)
        {
            // Abandoned mid-step: the messages already sent end before their buffers are reused (a late one is refused on
            // its first chunk).
            await Task.WhenAll(pushes).ConfigureAwait(false);
            throw;
        }
        if (s.Job.Mode == SyncMode.Coded)
        {
            s.Kernel.ReadGradient(s.Gradient);
            pushes.Add(PushAllAsync(s, new PushHeader(s.WorkerId, step, 0, plan.StepRows, codedLoss, CodeRow: s.WorkerId), s.Gradient, pushCt));
        }
        s.TypicalCompute.Record(compute, load);
        s.Report.ComputeSeconds += compute.TotalSeconds;

        var pushWatch = Stopwatch.StartNew();
        var finished = await Task.WhenAll(pushes).ConfigureAwait(false);
        s.Report.PushSeconds += pushWatch.Elapsed.TotalSeconds;
        s.Report.Steps++;
        return finished.Any(f => f);
    }

    /// <summary>Loss sum of held partition h's batch; adds scale · its gradient sum to the kernel's accumulator.</summary>
    private static double Gradient(StepContext s, int h, long step, float scale)
    {
        double loss = 0;
        foreach (var range in s.Plan.Batch(h, step)) loss += s.Kernel.AddGradient(range.Start, range.Count, scale);
        return loss;
    }

    private async Task<(int WorkerId, JobSpec Job, ShardInfo[] Shards, long Step)> RegisterAsync(CancellationToken ct)
    {
        var request = new RegisterRequest
        {
            RequestedWorkerId = _options.RequestedWorkerId, Host = _options.Host, Device = _backend.DeviceName,
            ClientToken = $"{_options.Host}/{Environment.ProcessId}/{Guid.NewGuid():N}",
        };
        var first = await _retry.RunAsync($"register with {_shards[0].Address}", () => _shards[0].RegisterAsync(request, ct, _options.CallTimeout), ct).ConfigureAwait(false);
        JobSpecRules.Validate(first.Job);
        var infos = new ShardInfo[_shards.Length];
        infos[0] = first.Shard;
        long step = first.Step;
        // Every other shard must admit this worker under the same id and describe the same job.
        request.RequestedWorkerId = first.WorkerId;
        for (int i = 1; i < _shards.Length; i++)
        {
            var reply = await _retry.RunAsync($"register with shard {i} at {_shards[i].Address}", () => _shards[i].RegisterAsync(request, ct, _options.CallTimeout), ct).ConfigureAwait(false);
            if (!reply.Job.Equals(first.Job))
                throw new InvalidOperationException($"server {_shards[i].Address} runs a different job than {_shards[0].Address}");
            infos[i] = reply.Shard;
            step = Math.Min(step, reply.Step);
        }
        for (int i = 0; i < infos.Length; i++)
            if (infos[i].Index != i || infos[i].Count != infos.Length)
                throw new InvalidOperationException($"server {_shards[i].Address} owns shard {infos[i].Index} of {infos[i].Count}; expected shard {i} of {infos.Length} (list servers in shard order)");
        return (first.WorkerId, first.Job, infos, step);
    }

    /// <summary>
    /// Pulls every shard. If one pull fails for good, the others are cancelled and its error is thrown: otherwise they could
    /// wait forever for a step that needs this worker's own push.
    /// </summary>
    private async Task<PullResult[]> PullAllAsync(int workerId, long minStep, ShardInfo[] infos, float[] parameters, CancellationToken ct)
    {
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Exception? first = null;
        var pulls = infos.Select(async info =>
        {
            try { return await PullShardAsync(workerId, minStep, info, parameters, siblings.Token).ConfigureAwait(false); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref first, e, null);
                siblings.Cancel();
                throw;
            }
        }).ToList();
        try
        {
            return await Task.WhenAll(pulls).ConfigureAwait(false);
        }
        catch when (first is not null && !ct.IsCancellationRequested)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    private async Task<PullResult> PullShardAsync(int workerId, long minStep, ShardInfo info, float[] parameters, CancellationToken ct)
    {
        var destination = parameters.AsMemory((int)info.Offset, (int)info.Length);
        while (true)
        {
            try
            {
                return await _retry.RunAsync($"pull from shard {info.Index} at {_shards[info.Index].Address}",
                    () => _shards[info.Index].PullAsync(workerId, minStep, destination, ct, _options.CallTimeout), ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded && !ct.IsCancellationRequested)
            {
                // Alive (it answered a heartbeat lately) but the step is not open yet: other workers are slower. Keep
                // waiting. A shard that answers nothing at all is given up on like an unreachable one.
                long silentMs = Environment.TickCount64 - Volatile.Read(ref _lastHeartbeatMs[info.Index]);
                if (silentMs > _heartbeatTimeoutMs)
                    throw new RpcException(new Status(StatusCode.Unavailable, $"shard {info.Index} at {_shards[info.Index].Address} answered neither pulls nor heartbeats for {silentMs} ms"));
                _log.Debug("Worker {WorkerId} still waiting for step {Step} on shard {Shard}", workerId, minStep, info.Index);
            }
        }
    }

    /// <summary>Pushes one gradient to every shard (each its slice); returns true when a shard says the job finished.</summary>
    private async Task<bool> PushAllAsync(StepContext s, PushHeader header, float[] gradient, CancellationToken ct)
    {
        var replies = await Task.WhenAll(s.Shards.Select(async info =>
        {
            var slice = gradient.AsMemory((int)info.Offset, (int)info.Length);
            var shardHeader = header with { Shard = info.Index };
            try
            {
                var reply = await _retry.RunAsync($"push to shard {info.Index} at {_shards[info.Index].Address}",
                    () => _shards[info.Index].PushAsync(shardHeader, slice, ct, _options.CallTimeout), ct).ConfigureAwait(false);
                s.Report.AddBytesPushed(slice.Length * sizeof(float));
                return reply;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.AlreadyExists)
            {
                // Refused on its first chunk: its tensor (mostly) never crossed the network, so its bytes are not counted.
                s.Report.CountDroppedPush();
                _log.Debug("Worker {WorkerId} push of step {Step} to shard {Shard} dropped: {Reason}", header.WorkerId, header.Step, info.Index, e.Status.Detail);
                return null;
            }
        })).ConfigureAwait(false);
        return replies.Any(r => r is { Finished: true });
    }

    private async Task HeartbeatLoopAsync(StepContext s, CancellationToken ct)
    {
        var period = TimeSpan.FromMilliseconds(Math.Max(50, s.Job.HeartbeatTimeoutMs / 3));
        try
        {
            while (true)
            {
                await Task.Delay(period, ct).ConfigureAwait(false);
                for (int i = 0; i < _shards.Length; i++)
                {
                    try
                    {
                        await _shards[i].HeartbeatAsync(s.WorkerId, s.CurrentStep, ct, period).ConfigureAwait(false);
                        Volatile.Write(ref _lastHeartbeatMs[i], Environment.TickCount64);
                    }
                    catch (RpcException e) { _log.Debug("Heartbeat to {Server} failed: {Status}", _shards[i].Address, e.StatusCode); }
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var shard in _shards) await shard.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>What one worker's steps share: its job, data plan, kernel, buffers and counters.</summary>
    private sealed class StepContext(int workerId, JobSpec job, ShardInfo[] shards, PartitionPlan plan, IGradientKernel kernel, StragglerInjector stragglers, WorkerReport report)
    {
        private readonly float[][] _messageBuffers = new float[plan.Held.Count][];

        public int WorkerId { get; } = workerId;
        public JobSpec Job { get; } = job;
        public ShardInfo[] Shards { get; } = shards;
        public PartitionPlan Plan { get; } = plan;
        public IGradientKernel Kernel { get; } = kernel;
        public StragglerInjector Stragglers { get; } = stragglers;
        public WorkerReport Report { get; } = report;
        public float[] Gradient { get; } = new float[kernel.Shape.ParameterCount];
        /// <summary>The step being computed (reported in heartbeats).</summary>
        public long CurrentStep { get; set; }
        /// <summary>This worker's typical real compute (relative persistent stragglers are slower by a factor of it).</summary>
        public ComputeReference TypicalCompute { get; } = new();

        public float[] MessageBuffer(int h) => _messageBuffers[h] ??= new float[Kernel.Shape.ParameterCount];
    }
}
