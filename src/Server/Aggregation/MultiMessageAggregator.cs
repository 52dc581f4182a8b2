using Grpc.Core;
using GpuPs.Core.Coding;
using GpuPs.Protocol;

namespace GpuPs.Server.Aggregation;

/// <summary>
/// Multi-message partial gradients (Ozfatura, Gündüz, Ulukus 2019): workers push one message per finished partition of
/// their (repetition) assignment, and the step closes as soon as the messages cover every partition — the partitions a
/// slow-but-alive worker did finish still count. A partition already covered by another replica is ignored, not refused.
/// </summary>
public sealed class MultiMessageAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, IGradientCode assignment)
    : SynchronousAggregator(model, workers, totalSteps)
{
    private readonly GradientSum _sum = new(model.Length);
    private readonly bool[] _covered = new bool[assignment.Partitions];
    private readonly bool[] _sent = new bool[workers.Length * assignment.Partitions];   // (worker, partition) this step
    private int _coveredCount;

    protected override void Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (header.Partition is not int p)
            throw new GpuPsException(StatusCode.InvalidArgument, $"multi-message push of worker {worker.Id} names no partition");
        if (p < 0 || p >= assignment.Partitions || !assignment.IsAssigned(worker.Id, p))
            throw new GpuPsException(StatusCode.InvalidArgument, $"partition {p} is not assigned to worker {worker.Id} (it holds {string.Join(",", assignment.PartitionsOf(worker.Id))})");
        if (_sent[worker.Id * _covered.Length + p])
            throw new GpuPsException(StatusCode.AlreadyExists, $"worker {worker.Id} already pushed partition {p} of step {header.Step}");
        _sent[worker.Id * _covered.Length + p] = true;
        if (_covered[p]) return;   // another replica delivered it first
        _sum.Add(gradientSum, header.SampleCount, header.LossSum);
        _covered[p] = true;
        _coveredCount++;
    }

    protected override bool TryClose()
    {
        if (_coveredCount < _covered.Length || IsFinished) return false;
        _sum.ApplyTo(Model);
        Array.Clear(_covered);
        Array.Clear(_sent);
        _coveredCount = 0;
        return true;
    }
}
