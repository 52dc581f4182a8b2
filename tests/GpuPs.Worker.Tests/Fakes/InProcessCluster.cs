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

    public InProcessCluster(TrainingJob job, int shards, float learningRate)
    {
        Job = job;
        _shards = Enumerable.Range(0, shards)
            .Select(i => ParameterShard.Create(job, new OptimizerSettings(OptimizerKind.Sgd, learningRate), i, shards, _backend, Log.Logger))
            .ToArray();
        Fakes = _shards.Select(s => new InProcessShard(s)).ToArray();
    }

    public TrainingJob Job { get; }

    public InProcessShard[] Fakes { get; }

    public IReadOnlyList<string> Addresses => Enumerable.Range(0, _shards.Length).Select(i => i.ToString()).ToArray();

    /// <summary>A worker on this cluster (SIMD kernels), with an optional step hook in place of the job's straggler model.</summary>
    public TrainingWorker Worker(int maxRetries = 8, TimeSpan? callTimeout = null, Func<Registration, IWorkerStepHook>? hook = null) =>
        new(new WorkerOptions(Addresses, CallTimeout: callTimeout, MaxRetries: maxRetries), _backend, Log.Logger, address => Fakes[int.Parse(address)].Connect(), hook);

    /// <summary>Runs <paramref name="workers"/> workers to the end of the job.</summary>
    public async Task<WorkerReport[]> RunAsync(int workers, CancellationToken ct)
    {
        var running = Enumerable.Range(0, workers).Select(async _ =>
        {
            await using var worker = Worker();
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
