using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Bulk-synchronous: every expected worker pushes its partition's gradient sum, and the step applies exactly the
/// full-batch mean gradient. Waits for the slowest worker; a worker that rejoins resumes at the shard's step.
/// </summary>
public sealed class BspMode : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => SyncMode.Bsp;
    /// <inheritdoc />
    public string Name => "bsp";
    /// <inheritdoc />
    public bool IsStepSynchronous => true;
    /// <inheritdoc />
    public bool ToleratesStragglers => false;
    /// <inheritdoc />
    public bool ResumesAtShardStep => true;

    /// <inheritdoc />
    public int PartitionsPerWorker(int stragglers) => 1;

    /// <inheritdoc />
    public int WorstCaseResponders(int workers, int stragglers) => workers;

    /// <inheritdoc />
    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    /// <inheritdoc />
    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers);

    /// <inheritdoc />
    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
