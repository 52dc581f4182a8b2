using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// Sums plain (uncoded) gradient pushes and closes the step at a quorum. With quorum = n this is BSP: it waits for every
/// expected worker, and the update (sum of gradient sums / total rows) is exactly the full-batch mean gradient. With
/// quorum = n − s it is backup workers / ignore-stragglers (Chen et al. 2016): the first n − s pushes make the step and
/// the rest are dropped — fast, but biased, since the dropped partitions' gradients are lost.
/// </summary>
public sealed class QuorumAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, int quorum)
    : SynchronousAggregator(model, workers, totalSteps)
{
    private readonly GradientSum _sum = new(model.Length);
    private readonly bool[] _pushed = new bool[workers.Length];
    private int _pushes;

    /// <inheritdoc />
    protected override PushOutcome? Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (_pushed[worker.Id]) return Duplicate(worker, $"step {header.Step}");
        _sum.Add(gradientSum, header.SampleCount, header.LossSum);
        _pushed[worker.Id] = true;
        _pushes++;
        return null;
    }

    /// <summary>A node's sum of its workers' gradient sums counts as each of their pushes (and toward the quorum).</summary>
    protected override PushOutcome? TakeGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values)
    {
        foreach (var worker in workers)
            if (_pushed[worker.Id]) return Duplicate(worker, $"step {header.Step}");
        _sum.Add(values, header.SampleCount, header.LossSum);
        foreach (var worker in workers) _pushed[worker.Id] = true;
        _pushes += workers.Count;
        return null;
    }

    /// <inheritdoc />
    protected override bool TryClose()
    {
        if (_sum.IsEmpty || IsFinished) return false;
        if (_pushes < quorum)
            foreach (var w in Workers)
                if (w.Expected && !_pushed[w.Id]) return false;

        _sum.ApplyTo(Model);
        Array.Clear(_pushed);
        _pushes = 0;
        return true;
    }
}
