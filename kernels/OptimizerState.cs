namespace GpuPs.Kernels;

/// <summary>
/// Everything an optimizer carries from one step to the next, for checkpoints: the <see cref="Steps"/> applied so far
/// (Adam's t) and its state vectors, each as long as the optimizer's parameter vector: none for SGD, the velocity for
/// momentum, m then v for Adam (see <see cref="SlotCount"/>). Produced by <see cref="IOptimizerKernel.ExportState"/>
/// as a copy and copied in by <see cref="IOptimizerKernel.ImportState"/>, so it may be kept or changed freely; the
/// record's equality compares the slot arrays by reference, not by content.
/// </summary>
public sealed record OptimizerState(OptimizerKind Kind, long Steps, float[][] Slots)
{
    /// <summary>
    /// A shard cut into closing ranges, one optimizer each: every range's <see cref="Steps"/>, in key order, when they
    /// differ (a range whose optimizer restarted after an update that was not finite); null when all are <see cref="Steps"/>.
    /// </summary>
    public long[]? RangeSteps { get; init; }

    /// <summary>Number of state vectors an optimizer of <paramref name="kind"/> carries: 0, 1 or 2.</summary>
    public static int SlotCount(OptimizerKind kind) => kind switch
    {
        OptimizerKind.Sgd => 0,
        OptimizerKind.Momentum => 1,
        OptimizerKind.Adam => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown optimizer"),
    };
}
