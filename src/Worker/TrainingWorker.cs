using System.Diagnostics;
using Grpc.Core;
using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// The worker loop: register with every shard, load its data partition onto the compute device, then per step
/// pull parameters → compute the gradient sum of its batch with the kernels → push one slice to each shard.
/// </summary>
/// <remarks>
/// One worker per instance; <see cref="RunAsync"/> is called once. Shard calls run concurrently (one per shard).
/// Transient failures (server unreachable) are retried with backoff; a push refused because its step closed meanwhile
/// (this worker was evicted as a straggler) is dropped and the worker resynchronises at the shard's step.
/// </remarks>
public sealed class TrainingWorker : IAsyncDisposable
{
    private readonly WorkerOptions _options;
    private readonly IComputeBackend _backend;
    private readonly IShardClient[] _shards;
    private readonly RetryPolicy _retry;
    private ILogger _log;

    public TrainingWorker(WorkerOptions options, IComputeBackend backend, ILogger log, Func<string, IShardClient> connect)
    {
        if (options.Servers.Count == 0) throw new ArgumentException("a worker needs at least one server address");
        _options = options;
        _backend = backend;
        _log = log;
        _retry = new RetryPolicy(options.MaxRetries, log);
        _shards = options.Servers.Select(connect).ToArray();
    }

    /// <summary>Runs the job to its end (or until cancelled) and returns what this worker did.</summary>
    public async Task<WorkerReport> RunAsync(CancellationToken cancellationToken)
    {
        var (workerId, job, shardInfos, startStep) = await RegisterAsync(cancellationToken).ConfigureAwait(false);
        _log = _log.ForContext("WorkerId", workerId);
        var shape = JobSpecRules.ToModelShape(job);

        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        var partition = DataPartitioner.Partition(data.Train.Rows, job.Workers)[workerId];
        using var kernel = _backend.CreateGradientKernel(shape);
        var rows = data.Train.Select(Enumerable.Range(partition.Start, partition.Count).ToArray());
        kernel.SetData(rows.Features, rows.Labels);
        int batch = job.BatchSize <= 0 ? rows.Rows : Math.Min(job.BatchSize, rows.Rows);
        _log.Information("Worker {WorkerId} holds rows {Start}..{End} of {Dataset} on {Device}; batch {Batch}, from step {Step}",
            workerId, partition.Start, partition.Start + partition.Count, job.Dataset, _backend.DeviceName, batch, startStep);

        var parameters = new float[shape.ParameterCount];
        var gradient = new float[shape.ParameterCount];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeats = HeartbeatLoopAsync(workerId, job, stop.Token);
        var report = new WorkerReport(workerId, _backend.DeviceName);
        bool bsp = job.Mode == SyncMode.Bsp;
        try
        {
            long step = startStep;
            while (step < job.Steps)
            {
                var pullWatch = Stopwatch.StartNew();
                var pulled = await PullAllAsync(workerId, bsp ? step : 0, shardInfos, parameters, stop.Token).ConfigureAwait(false);
                if (pulled.Any(p => p.Finished)) break;
                if (bsp) step = pulled.Min(p => p.Step);
                report.PullSeconds += pullWatch.Elapsed.TotalSeconds;

                var computeWatch = Stopwatch.StartNew();
                int start = (int)(step * batch % rows.Rows);
                int first = Math.Min(batch, rows.Rows - start);
                double loss = kernel.LossAndGradient(parameters, start, first, gradient);
                if (first < batch) loss += kernel.LossAndGradient(parameters, 0, batch - first, gradient, accumulate: true);
                report.ComputeSeconds += computeWatch.Elapsed.TotalSeconds;

                var pushWatch = Stopwatch.StartNew();
                bool finished = await PushAllAsync(workerId, step, batch, loss, shardInfos, gradient, stop.Token).ConfigureAwait(false);
                report.PushSeconds += pushWatch.Elapsed.TotalSeconds;
                report.Steps++;
                report.LastMeanLoss = loss / batch;
                _log.Debug("Worker {WorkerId} pushed step {Step}, batch loss {Loss:F4}", workerId, step, loss / batch);
                step++;
                if (finished) break;
            }
        }
        finally
        {
            stop.Cancel();
            await heartbeats.ConfigureAwait(false);
        }
        _log.Information("Worker {WorkerId} finished after {Steps} steps (compute {Compute:F2} s, pull {Pull:F2} s, push {Push:F2} s)",
            workerId, report.Steps, report.ComputeSeconds, report.PullSeconds, report.PushSeconds);
        return report;
    }

    private async Task<(int WorkerId, JobSpec Job, ShardInfo[] Shards, long Step)> RegisterAsync(CancellationToken ct)
    {
        var request = new RegisterRequest { RequestedWorkerId = _options.RequestedWorkerId, Host = _options.Host, Device = _backend.DeviceName };
        var first = await _retry.RunAsync("register", () => _shards[0].RegisterAsync(request, ct, _options.CallTimeout), ct).ConfigureAwait(false);
        JobSpecRules.Validate(first.Job);
        var infos = new ShardInfo[_shards.Length];
        infos[0] = first.Shard;
        long step = first.Step;
        // Every other shard must admit this worker under the same id and describe the same job.
        request.RequestedWorkerId = first.WorkerId;
        for (int i = 1; i < _shards.Length; i++)
        {
            var reply = await _retry.RunAsync($"register with shard {i}", () => _shards[i].RegisterAsync(request, ct, _options.CallTimeout), ct).ConfigureAwait(false);
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

    private Task<PullResult[]> PullAllAsync(int workerId, long minStep, ShardInfo[] infos, float[] parameters, CancellationToken ct) =>
        Task.WhenAll(infos.Select(info => PullShardAsync(workerId, minStep, info, parameters, ct)));

    private async Task<PullResult> PullShardAsync(int workerId, long minStep, ShardInfo info, float[] parameters, CancellationToken ct)
    {
        var destination = parameters.AsMemory((int)info.Offset, (int)info.Length);
        while (true)
        {
            try
            {
                return await _retry.RunAsync($"pull shard {info.Index}",
                    () => _shards[info.Index].PullAsync(workerId, minStep, destination, ct, _options.CallTimeout), ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded && !ct.IsCancellationRequested)
            {
                // The shard is alive but the step is not open yet: other workers are slower. Keep waiting.
                _log.Debug("Worker {WorkerId} still waiting for step {Step} on shard {Shard}", workerId, minStep, info.Index);
            }
        }
    }

    private async Task<bool> PushAllAsync(int workerId, long step, int rows, double loss, ShardInfo[] infos, float[] gradient, CancellationToken ct)
    {
        var replies = await Task.WhenAll(infos.Select(async info =>
        {
            var header = new PushHeader(workerId, step, info.Index, rows, loss);
            var slice = gradient.AsMemory((int)info.Offset, (int)info.Length);
            try
            {
                return await _retry.RunAsync($"push shard {info.Index}",
                    () => _shards[info.Index].PushAsync(header, slice, ct, _options.CallTimeout), ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.AlreadyExists)
            {
                _log.Warning("Worker {WorkerId} push of step {Step} to shard {Shard} dropped: {Reason}", workerId, step, info.Index, e.Status.Detail);
                return null;
            }
        })).ConfigureAwait(false);
        return replies.Any(r => r is { Finished: true });
    }

    private async Task HeartbeatLoopAsync(int workerId, JobSpec job, CancellationToken ct)
    {
        var period = TimeSpan.FromMilliseconds(Math.Max(50, job.HeartbeatTimeoutMs / 3));
        try
        {
            while (true)
            {
                await Task.Delay(period, ct).ConfigureAwait(false);
                foreach (var shard in _shards)
                {
                    try { await shard.HeartbeatAsync(workerId, 0, ct, period).ConfigureAwait(false); }
                    catch (RpcException e) { _log.Debug("Heartbeat to {Server} failed: {Status}", shard.Address, e.StatusCode); }
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var shard in _shards) await shard.DisposeAsync().ConfigureAwait(false);
    }
}
