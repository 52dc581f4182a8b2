using GpuPs.Core.Aggregation;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Backup workers / ignore-stragglers (Chen et al. 2016): the first n − s plain pushes make the step and the rest are
/// dropped. Fast, but biased: the dropped partitions' gradients are lost for that step.
/// </summary>
public sealed class BackupMode() : SyncModeBase(SyncMode.Backup, "backup", isStepSynchronous: true, toleratesStragglers: true)
{
    /// <inheritdoc />
    public override int WorstCaseResponders(int workers, int stragglers) => workers - stragglers;

    /// <inheritdoc />
    public override bool AssignsBySpeed => true;

    /// <summary>Pushes are plain gradient sums the shard adds: a node's sum counts as each of its workers' pushes.</summary>
    public override PushCombining Combining => PushCombining.Sum;

    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers - job.Stragglers);
}
