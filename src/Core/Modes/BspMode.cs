using GpuPs.Core.Aggregation;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Bulk-synchronous: every expected worker pushes its partition's gradient sum, and the step applies exactly the
/// full-batch mean gradient. Waits for the slowest worker; a worker that rejoins resumes at the shard's step.
/// </summary>
public sealed class BspMode() : SyncModeBase(SyncMode.Bsp, "bsp", isStepSynchronous: true, toleratesStragglers: false)
{
    /// <inheritdoc />
    public override bool ResumesAtShardStep => true;

    /// <inheritdoc />
    public override bool AssignsBySpeed => true;

    /// <summary>Pushes are plain gradient sums the shard adds: a node's sum counts as each of its workers' pushes.</summary>
    public override PushCombining Combining => PushCombining.Sum;

    /// <summary>Every range waits for the same pushes, every expected worker's: a range can close on its own.</summary>
    public override bool ClosesPerRange => true;

    /// <inheritdoc />
    /// <remarks>Per range (<see cref="RangeQuorumAggregator"/>) when the model is cut into closing ranges.</remarks>
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        model.Ranges.Count > 1
            ? new RangeQuorumAggregator(model, workers, job.Steps, quorum: job.Workers)
            : new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers);
}
