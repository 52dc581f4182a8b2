using Grpc.Core;
using GpuPs.Protocol;

namespace GpuPs.Server.Aggregation;

/// <summary>
/// The rules every step-synchronous mode shares (BSP, backup workers, coded, multi-message): pushes are for the open step
/// only, a push for a closed step is a straggler's and is dropped (counted, never applied), and a worker may read the
/// parameters of step t once the shard reached t. Subclasses decide what a push contributes and when the step closes.
/// </summary>
public abstract class SynchronousAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps) : IStepAggregator
{
    protected ShardModel Model { get; } = model;
    protected WorkerSlot[] Workers { get; } = workers;

    public bool IsFinished => Model.Step >= totalSteps;

    public int MaxStalenessSeen => 0;

    public long LatePushesDropped { get; private set; }

    public bool Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        Admit(worker, header);
        Take(worker, header, gradientSum);
        worker.Clock = header.Step + 1;
        return TryClose();
    }

    public void Admit(WorkerSlot worker, in PushHeader header)
    {
        if (header.Step < Model.Step)
        {
            // A retry of a push that was applied (the worker's clock is past it) is not a straggler's work.
            if (worker.Clock <= header.Step) LatePushesDropped++;
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: that step is closed, the shard is at step {Model.Step}");
        }
        if (IsFinished)
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: the job finished at step {Model.Step}");
        if (header.Step > Model.Step)
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: the shard is still at step {Model.Step}");
    }

    public bool OnMembershipChanged() => TryClose();

    public bool CanProceed(WorkerSlot worker, long minStep) => Model.Step >= minStep || IsFinished;

    /// <summary>Validates (throwing <see cref="GpuPsException"/> before any change) and records one push for the open step.</summary>
    protected abstract void Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum);

    /// <summary>Applies the step's update and resets when what was received suffices; returns whether it did.</summary>
    protected abstract bool TryClose();
}
