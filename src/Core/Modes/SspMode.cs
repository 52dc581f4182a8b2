using GpuPs.Core.Aggregation;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Stale-synchronous parallel (Ho et al. 2013): asynchronous updates, but a worker may lead the slowest expected worker
/// by at most the job's staleness bound, for pulls and pushes alike.
/// </summary>
public sealed class SspMode() : SyncModeBase(SyncMode.Ssp, "ssp", isStepSynchronous: false, toleratesStragglers: false)
{
    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new AsyncAggregator(model, workers, job.Steps, job.Staleness);
}
