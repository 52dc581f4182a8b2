using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// Multi-message partial gradients (Ozfatura, Gündüz, Ulukus 2019): workers push one message per finished partition of
/// their (repetition) assignment, and the step closes as soon as the messages cover every partition — the partitions a
/// slow-but-alive worker did finish still count (<see cref="PartitionCoverage"/>, the coverage test a coded step makes
/// before decoding). A partition already covered by another replica is ignored, not refused.
/// </summary>
public sealed class MultiMessageAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, IGradientCode assignment)
    : SynchronousAggregator(model, workers, totalSteps)
{
    private readonly GradientSum _sum = new(model.Length);
    private readonly PartitionCoverage _coverage = new(assignment);
    private readonly bool[] _sent = new bool[workers.Length * assignment.Partitions];   // (worker, partition) this step
    private ulong _covered;

    /// <inheritdoc />
    protected override PushOutcome? Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (header.Partition is not int p)
            throw ShardException.Invalid($"multi-message push of worker {worker.Id} names no partition");
        if (p < 0 || p >= assignment.Partitions || !assignment.IsAssigned(worker.Id, p))
            throw ShardException.Invalid($"partition {p} is not assigned to worker {worker.Id} (it holds {string.Join(",", assignment.PartitionsOf(worker.Id))})");
        if (_sent[worker.Id * assignment.Partitions + p]) return Duplicate(worker, $"partition {p} of step {header.Step}");
        if ((_covered >> p & 1) == 0)   // else another replica delivered it first
        {
            _sum.Add(gradientSum, header.SampleCount, header.LossSum);   // may refuse the push: nothing is marked before it
            _covered |= 1UL << p;
        }
        _sent[worker.Id * assignment.Partitions + p] = true;
        return null;
    }

    /// <inheritdoc />
    protected override bool TryClose()
    {
        if (!_coverage.IsComplete(_covered) || IsFinished) return false;
        _sum.ApplyTo(Model);
        Array.Clear(_sent);
        _covered = 0;
        return true;
    }
}
