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

    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers);
}
