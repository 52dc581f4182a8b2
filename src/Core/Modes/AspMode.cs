using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>Asynchronous parallel: every push is applied at once with its own mean gradient; no worker ever waits.</summary>
public sealed class AspMode : ISyncMode
{
    public SyncMode Mode => SyncMode.Asp;
    public string Name => "asp";
    public bool IsStepSynchronous => false;
    public bool ToleratesStragglers => false;
    public bool ResumesAtShardStep => false;

    public int PartitionsPerWorker(int stragglers) => 1;

    public int WorstCaseResponders(int workers, int stragglers) => workers;

    public IGradientCode Assignment(JobSpec job) => new UncodedAssignment(job.Workers);

    public IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, JobSpec job, ILogger log) =>
        new AsyncAggregator(model, workers, job.Steps, staleness: null);

    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
