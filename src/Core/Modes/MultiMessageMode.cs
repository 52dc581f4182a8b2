using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Multi-message partial gradients (Ozfatura, Gündüz, Ulukus 2019): workers hold the s + 1 partitions of a repetition
/// assignment and push each one as it finishes; the step closes when the messages cover every partition, so the work a
/// slow-but-alive worker did finish still counts.
/// </summary>
public sealed class MultiMessageMode : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => SyncMode.MultiMessage;
    /// <inheritdoc />
    public string Name => "multi-message";
    /// <inheritdoc />
    public bool IsStepSynchronous => true;
    /// <inheritdoc />
    public bool ToleratesStragglers => true;
    /// <inheritdoc />
    public bool ResumesAtShardStep => false;

    /// <inheritdoc />
    public int PartitionsPerWorker(int stragglers) => stragglers + 1;

    /// <inheritdoc />
    public int WorstCaseResponders(int workers, int stragglers) => workers;

    /// <inheritdoc />
    public IGradientCode Assignment(JobSpec job) => CodedMode.JobCode(job);

    /// <inheritdoc />
    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new MultiMessageAggregator(model, workers, job.Steps, Assignment(job));

    /// <inheritdoc />
    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => new PartitionPushPolicy(plan, workerId);
}
