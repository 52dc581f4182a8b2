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
public sealed class MultiMessageMode() : SyncModeBase(SyncMode.MultiMessage, "multi-message", isStepSynchronous: true, toleratesStragglers: true)
{
    /// <inheritdoc />
    public override int PartitionsPerWorker(int stragglers) => stragglers + 1;

    /// <inheritdoc />
    public override IGradientCode Assignment(TrainingJob job) => JobCode(job);

    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new MultiMessageAggregator(model, workers, job.Steps, Assignment(job));

    /// <inheritdoc />
    public override IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => new PartitionPushPolicy(plan, workerId);
}
