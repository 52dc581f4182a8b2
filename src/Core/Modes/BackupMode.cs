using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Backup workers / ignore-stragglers (Chen et al. 2016): the first n − s plain pushes make the step and the rest are
/// dropped. Fast, but biased: the dropped partitions' gradients are lost for that step.
/// </summary>
public sealed class BackupMode : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => SyncMode.Backup;
    /// <inheritdoc />
    public string Name => "backup";
    /// <inheritdoc />
    public bool IsStepSynchronous => true;
    /// <inheritdoc />
    public bool ToleratesStragglers => true;
    /// <inheritdoc />
    public bool ResumesAtShardStep => false;

    /// <inheritdoc />
    public int PartitionsPerWorker(int stragglers) => 1;

    /// <inheritdoc />
    public int WorstCaseResponders(int workers, int stragglers) => workers - stragglers;

    /// <inheritdoc />
    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    /// <inheritdoc />
    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers - job.Stragglers);

    /// <inheritdoc />
    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
