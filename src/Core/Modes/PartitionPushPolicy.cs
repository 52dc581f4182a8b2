using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Modes;

/// <summary>Multi-message: each held partition's plain gradient sum is its own push, naming the partition.</summary>
public sealed class PartitionPushPolicy(PartitionPlan plan, int workerId) : IWorkerPushPolicy
{
    /// <inheritdoc />
    public bool PushesEachPartition => true;

    /// <inheritdoc />
    public float Weight(int h) => 1f;

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException">
    /// <paramref name="h"/> is null: each push of this policy carries one partition.
    /// </exception>
    public PushHeader Header(long step, int? h, double lossSum)
    {
        int held = h ?? throw new ArgumentNullException(nameof(h), "a multi-message push carries one partition");
        return new(workerId, step, 0, plan.BatchRowsOf(held), lossSum, Partition: plan.Held[held]);
    }
}
