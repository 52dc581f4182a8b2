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
    public SyncMode Mode => SyncMode.Bsp;
    public string Name => "bsp";
    public bool IsStepSynchronous => true;
    public bool ToleratesStragglers => false;
    public bool ResumesAtShardStep => true;

    public int PartitionsPerWorker(int stragglers) => 1;

    public int WorstCaseResponders(int workers, int stragglers) => workers;

    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new QuorumAggregator(model, workers, job.Steps, quorum: job.Workers);

    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
