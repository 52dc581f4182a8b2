using System.Diagnostics;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Observers;
using GpuPs.Worker.Transport;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// <c>gpups train</c>'s evaluation history: the model evaluated at each epoch's end, from copies the in-process shards
/// made at exactly that step (<see cref="ParameterSnapshots"/>), or, where the servers are processes, from a pull when
/// the driver sees the epoch has passed (a later model when the workers are faster than its poll); and the final model.
/// </summary>
/// <param name="evaluator">Evaluates a whole model on the train and test sets.</param>
/// <param name="layout">The shards' key ranges.</param>
/// <param name="stepsPerEpoch">Steps of one epoch.</param>
/// <param name="updatesPerStep">Shard updates a step (ASP and SSP update once per push: the workers).</param>
/// <param name="progress">Hears each evaluation.</param>
/// <param name="started">When the run started (<see cref="Stopwatch.GetTimestamp"/>): evaluations are timed from it.</param>
internal sealed class EpochEvaluations(ModelEvaluator evaluator, ShardInfo[] layout, int stepsPerEpoch, int updatesPerStep, ITrainingProgress progress, long started)
{
    private readonly List<EpochRecord> _history = [];

    /// <summary>The whole model as last assembled (the final model after <see cref="FinalAsync"/>).</summary>
    public float[] Parameters { get; } = new float[layout.Sum(s => (long)s.Length)];

    /// <summary>The evaluations so far, oldest first.</summary>
    public IReadOnlyList<EpochRecord> History => _history;

    /// <summary>
    /// Evaluates every step that every shard has a copy of, oldest first; a step that some shard's copies lack (dropped
    /// because this reader fell behind) is skipped.
    /// </summary>
    public void FromSnapshots(IReadOnlyList<ParameterSnapshots> shards)
    {
        while (shards.Count > 0 && shards.All(s => s.TryPeekStep(out _)))
        {
            long step = shards.Max(s => s.TryPeekStep(out long oldest) ? oldest : 0);
            foreach (var s in shards)
                while (s.TryPeekStep(out long oldest) && oldest < step) s.TryTake(out _);
            if (!shards.All(s => s.TryPeekStep(out long oldest) && oldest == step)) continue;
            long at = 0;
            for (int i = 0; i < shards.Count; i++)
            {
                shards[i].TryTake(out var copy);
                copy.Parameters.CopyTo(Parameters.AsSpan((int)layout[i].Offset, (int)layout[i].Length));
                at = Math.Max(at, copy.Timestamp);
            }
            Keep(Record(step, Stopwatch.GetElapsedTime(started, at).TotalSeconds));
        }
    }

    /// <summary>Pulls the whole model from the shards and evaluates it (at the lowest shard step).</summary>
    public async Task PullAsync(GrpcShardClient[] observers, CancellationToken ct) => Keep(Record(await PullModelAsync(observers, ct).ConfigureAwait(false)));

    /// <summary>
    /// The final model: pulled and evaluated, and added to the history unless its last evaluation was of the same step.
    /// </summary>
    public async Task<EpochRecord> FinalAsync(GrpcShardClient[] observers, CancellationToken ct)
    {
        var final = Record(await PullModelAsync(observers, ct).ConfigureAwait(false));
        if (_history.Count == 0 || _history[^1].Step != final.Step) Keep(final);
        return final;
    }

    /// <summary>Pulls every shard into <see cref="Parameters"/>; returns the lowest shard step.</summary>
    private async Task<long> PullModelAsync(GrpcShardClient[] observers, CancellationToken ct)
    {
        var pulled = await Task.WhenAll(observers.Select((o, i) =>
            o.PullAsync(-1, 0, Parameters.AsMemory((int)layout[i].Offset, (int)layout[i].Length), ct, TimeSpan.FromSeconds(30)))).ConfigureAwait(false);
        return pulled.Min(p => p.Step);
    }

    private void Keep(EpochRecord record)
    {
        _history.Add(record);
        progress.Evaluated(record);
    }

    private EpochRecord Record(long shardStep) => Record(shardStep, Stopwatch.GetElapsedTime(started).TotalSeconds);

    private EpochRecord Record(long shardStep, double seconds)
    {
        var (train, test) = evaluator.Evaluate(Parameters);
        double step = (double)shardStep / updatesPerStep;
        return new EpochRecord(step / stepsPerEpoch, (long)step, seconds, train.MeanLoss, train.Accuracy, test.MeanLoss, test.Accuracy);
    }
}
