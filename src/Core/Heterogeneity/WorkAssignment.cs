namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// One version of a proportional assignment, as the coordinator publishes it: the clamped speeds the shares are
/// proportional to, the workers given a zero share, the first step computed with it, and how much data it moved. Workers
/// build the partitions (or the heterogeneity-aware code) from <see cref="Shares"/> with the job's mode
/// (<see cref="Modes.ISyncMode.Assignment(Training.TrainingJob, IReadOnlyList{double})"/>), the same pure function the
/// coordinator uses, so both sides hold the same assignment for the same version.
/// </summary>
/// <param name="Version">1 for the first assignment, +1 per rebalance.</param>
/// <param name="FromStep">The first step computed with this version (the step open when it was published).</param>
/// <param name="Speeds">Per worker, the clamped rows per second the shares are proportional to.</param>
/// <param name="MovedFraction">Share of the training rows whose holders changed from the previous version (0 for version 1).</param>
public sealed record WorkAssignment(long Version, long FromStep, IReadOnlyList<double> Speeds, double MovedFraction)
{
    /// <summary>
    /// Workers given no rows (BSP only, <see cref="ZeroShares"/>; evicted workers too), ascending. They compute and push
    /// nothing, no shard waits for them, and they stay members: they ask for every step's assignment and pull the model.
    /// </summary>
    public IReadOnlyList<int> Idle { get; init; } = [];

    /// <summary>Per worker, the weight of its share: its speed, or 0 when it is <see cref="Idle"/>.</summary>
    public double[] Shares() => Speeds.Select((v, i) => Idle.Contains(i) ? 0 : v).ToArray();
}
