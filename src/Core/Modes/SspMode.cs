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
    public SyncMode Mode => SyncMode.Ssp;
    public string Name => "ssp";
    public bool IsStepSynchronous => false;
    public bool ToleratesStragglers => false;
    public bool ResumesAtShardStep => false;

    public int PartitionsPerWorker(int stragglers) => 1;

    public int WorstCaseResponders(int workers, int stragglers) => workers;

    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new AsyncAggregator(model, workers, job.Steps, job.Staleness);

    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
