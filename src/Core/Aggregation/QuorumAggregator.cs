using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// Sums plain (uncoded) gradient pushes and closes the step at a quorum. With quorum = n this is BSP: it waits for every
/// expected worker, and the update (sum of gradient sums / total rows) is exactly the full-batch mean gradient. With
/// quorum = n − s it is backup workers / ignore-stragglers (Chen et al. 2016): the first n − s pushes make the step and
/// the rest are dropped — fast, but biased, since the dropped partitions' gradients are lost.
/// </summary>
// IStepAggregator named again so that UseAssignment below implements its default member (as CodedAggregator does).
public sealed class QuorumAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, int quorum)
    : SynchronousAggregator(model, workers, totalSteps), IStepAggregator
{
    private readonly GradientSum _sum = new(model.Length);
    private readonly bool[] _pushed = new bool[workers.Length];
    private bool[] _idle = new bool[workers.Length];   // a zero share: holds no rows, so no push is waited for
    private int _pushes;

    /// <summary>
    /// From the open step on, waits for no push from a worker that <paramref name="code"/> gives no partition (a
    /// proportional BSP job's zero share): its rows are the others', so the sum is still every row's gradient once.
    /// </summary>
    public void UseAssignment(Coding.IGradientCode code) =>
        _idle = Enumerable.Range(0, Workers.Length).Select(i => code.PartitionsOf(i).Count == 0).ToArray();

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
                if (w.Expected && !_idle[w.Id] && !_pushed[w.Id]) return false;

        _sum.ApplyTo(Model);
        Array.Clear(_pushed);
        _pushes = 0;
        return true;
    }
}
