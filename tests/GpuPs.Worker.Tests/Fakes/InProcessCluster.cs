using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Client;
using Serilog;

namespace GpuPs.Worker.Tests.Fakes;

/// <summary>
/// Shards of one job in this process, each behind an <see cref="InProcessShard"/>, and workers that reach them by
/// "address" (the shard's index as a string).
/// </summary>
public sealed class InProcessCluster : IDisposable
{
    private readonly ParameterShard[] _shards;
    private readonly IComputeBackend _backend = Accelerators.Create(AcceleratorChoice.Simd);

    /// <param name="job">The job every shard runs.</param>
    /// <param name="shards">How many shards split its parameters.</param>
    /// <param name="learningRate">Plain SGD's rate.</param>
    /// <param name="pieces">Serve through a <see cref="GpuPs.Server.Pieces.PieceAssemblingShard"/>, as both real edges do, so pushes may come in pieces.</param>
    public InProcessCluster(TrainingJob job, int shards, float learningRate, bool pieces = false)
    {
        Job = job;
        _shards = Enumerable.Range(0, shards)
            .Select(i => ParameterShard.Create(job, new OptimizerSettings(OptimizerKind.Sgd, learningRate), i, shards, _backend, Log.Logger))
            .ToArray();
        Fakes = _shards.Select(s => new InProcessShard(pieces ? new GpuPs.Server.Pieces.PieceAssemblingShard(s, Log.Logger) : s)).ToArray();
    }

    /// <summary>The real shards behind <see cref="Fakes"/>.</summary>
    public IReadOnlyList<ParameterShard> Shards => _shards;

    /// <summary>The compute backend the workers use (SIMD).</summary>
    public IComputeBackend Backend => _backend;

    /// <summary>A client of every shard (not registered yet).</summary>
    public ShardedParameterClient Client(ShardedClientOptions? options = null) =>
        new(Fakes.Select(f => f.Connect()).ToArray(), options ?? new ShardedClientOptions(), Log.Logger);

    public TrainingJob Job { get; }

    public InProcessShard[] Fakes { get; }

    public IReadOnlyList<string> Addresses => Enumerable.Range(0, _shards.Length).Select(i => i.ToString()).ToArray();

    /// <summary>A worker on this cluster (SIMD kernels), with an optional step hook in place of the job's straggler model.</summary>
    public TrainingWorker Worker(int maxRetries = 8, TimeSpan? callTimeout = null, Func<Registration, IWorkerStepHook>? hook = null,
        Func<WorkerOptions, WorkerOptions>? configure = null)
    {
        var options = new WorkerOptions(Addresses, CallTimeout: callTimeout, MaxRetries: maxRetries);
        return new(configure?.Invoke(options) ?? options, _backend, Log.Logger, address => Fakes[int.Parse(address)].Connect(), hook);
    }

    /// <summary>Runs <paramref name="workers"/> workers to the end of the job (<paramref name="configure"/> changes their options).</summary>
    public async Task<WorkerReport[]> RunAsync(int workers, CancellationToken ct, Func<WorkerOptions, WorkerOptions>? configure = null)
    {
        var running = Enumerable.Range(0, workers).Select(async _ =>
        {
            await using var worker = Worker(configure: configure);
            return await worker.RunAsync(ct);
        });
        return await Task.WhenAll(running);
    }

    /// <summary>The whole parameter vector, from every shard.</summary>
    public float[] Parameters()
    {
        var values = new float[Job.ParameterCount];
        foreach (var shard in _shards) shard.CopyParameters(values.AsSpan((int)shard.Info.Offset, (int)shard.Info.Length));
        return values;
    }

    /// <summary>Shard 0's status (the coordinator's, in a proportional job).</summary>
    public StatusReply Status() => _shards[0].Status();

    public PreparedData Data() => PreparedData.Prepare(Job.Dataset, Job.TestFraction, Job.Seed);

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
        _backend.Dispose();
    }
}
