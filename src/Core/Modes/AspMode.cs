using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>Asynchronous parallel: every push is applied at once with its own mean gradient; no worker ever waits.</summary>
public sealed class AspMode : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => SyncMode.Asp;
    /// <inheritdoc />
    public string Name => "asp";
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
        new AsyncAggregator(model, workers, job.Steps, staleness: null);

    /// <inheritdoc />
    public IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);
}
