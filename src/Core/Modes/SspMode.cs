using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Stale-synchronous parallel (Ho et al. 2013): asynchronous updates, but a worker may lead the slowest expected worker
/// by at most the job's staleness bound, for pulls and pushes alike.
/// </summary>
public sealed class SspMode : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => SyncMode.Ssp;
    /// <inheritdoc />
    public string Name => "ssp";
    /// <inheritdoc />
    public bool IsStepSynchronous => false;
    /// <inheritdoc />
    public bool ToleratesStragglers => false;
    /// <inheritdoc />
    public bool ResumesAtShardStep => false;

    /// <inheritdoc />
    public int PartitionsPerWorker(int stragglers) => 1;

    /// <inheritdoc />
    public int WorstCaseResponders(int workers, int stragglers) => workers;

    /// <inheritdoc />
    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    /// <inheritdoc />
    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new AsyncAggregator(model, workers, job.Steps, job.Staleness);

    /// <inheritdoc />
    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
