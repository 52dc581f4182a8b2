using GpuPs.Core.Aggregation;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>Asynchronous parallel: every push is applied at once with its own mean gradient; no worker ever waits.</summary>
public sealed class AspMode() : SyncModeBase(SyncMode.Asp, "asp", isStepSynchronous: false, toleratesStragglers: false)
{
    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new AsyncAggregator(model, workers, job.Steps, staleness: null);
}
