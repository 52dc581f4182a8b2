using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The rules every step-synchronous mode shares (BSP, backup workers, coded, multi-message): pushes are for the open step
/// only, a push for a closed step is a straggler's and is dropped (counted, never applied), and a worker may read the
/// parameters of step t once the shard reached t. Subclasses decide what a push contributes and when the step closes.
/// </summary>
public abstract class SynchronousAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps) : IStepAggregator
{
    /// <summary>The shard's parameters and optimizer; its step is the open step.</summary>
    protected ShardModel Model { get; } = model;
    /// <summary>The job's worker slots, indexed by worker id.</summary>
    protected WorkerSlot[] Workers { get; } = workers;

    /// <inheritdoc />
    public bool IsFinished => Model.Step >= totalSteps;

    /// <summary>Always 0: no worker reads ahead of the shard's step.</summary>
    public int MaxStalenessSeen => 0;

    /// <inheritdoc />
    public long LatePushesDropped { get; private set; }

    /// <inheritdoc />
    public PushOutcome Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        var admitted = Admit(worker, header);
        if (!admitted.IsApplied) return admitted;
        if (Take(worker, header, gradientSum) is { } refused) return refused;
        worker.Clock = header.Step + 1;
        bool closed = TryClose();
        return PushOutcome.Applied(Model.Step, closed, IsFinished);
    }

    /// <summary>
    /// Takes a node aggregator's push as each contributor's push for the open step: refused whole (the first refusal)
    /// unless every contributor is admissible and has not pushed this step; a mode that cannot combine pushes refuses it
    /// as malformed (<see cref="TakeGroup"/>).
    /// </summary>
    public PushOutcome AcceptGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values)
    {
        foreach (var worker in workers)
        {
            var admitted = Admit(worker, header);
            if (!admitted.IsApplied) return admitted;
        }
        if (TakeGroup(workers, header, values) is { } refused) return refused;
        foreach (var worker in workers) worker.Clock = header.Step + 1;
        bool closed = TryClose();
        return PushOutcome.Applied(Model.Step, closed, IsFinished);
    }

    /// <summary>
    /// Records one push that stands for every worker in <paramref name="workers"/>, or returns the refusal (Duplicate when
    /// any of them pushed this step). The default refuses: the mode's rule cannot take combined pushes.
    /// </summary>
    protected virtual PushOutcome? TakeGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values) =>
        throw ShardException.Invalid($"{GetType().Name} takes no node-aggregated pushes (workers {header.Contributors}); its workers push to the shards directly");

    /// <summary>
    /// Admits a push for the open step only. One for a closed step is Duplicate if this worker pushed it already, else
    /// Late (counted in <see cref="LatePushesDropped"/>); one after the last step is Finished, one ahead Refused.
    /// </summary>
    public PushOutcome Admit(WorkerSlot worker, in PushHeader header)
    {
        if (header.Step < Model.Step)
        {
            // A retry of a push that was applied (the worker's clock is past it) is not a straggler's work.
            if (worker.Clock > header.Step)
                return PushOutcome.Duplicate(Model.Step, $"worker {worker.Id} already pushed step {header.Step}, which is closed");
            LatePushesDropped++;
            return PushOutcome.Late(Model.Step, $"push for step {header.Step} refused: that step is closed, the shard is at step {Model.Step}");
        }
        if (IsFinished)
            return PushOutcome.Finished(Model.Step, $"push for step {header.Step} refused: the job finished at step {Model.Step}");
        if (header.Step > Model.Step)
            return PushOutcome.Refused(Model.Step, $"push for step {header.Step} refused: the shard is still at step {Model.Step}");
        return PushOutcome.Applied(Model.Step, closedStep: false, jobFinished: false);
    }

    /// <summary>Closes the open step if the pushes received suffice now that the expected workers changed.</summary>
    public bool OnMembershipChanged() => TryClose();

    /// <summary>True once the shard has reached step <paramref name="minStep"/> or the job has finished.</summary>
    public bool CanProceed(WorkerSlot worker, long minStep) => Model.Step >= minStep || IsFinished;

    /// <summary>
    /// Records one push for the open step, or returns the refusal (a duplicate); a malformed push throws
    /// <see cref="ShardException"/>. Either way nothing changes unless it returns null.
    /// </summary>
    protected abstract PushOutcome? Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum);

    /// <summary>Applies the step's update and resets when what was received suffices; returns whether it did.</summary>
    protected abstract bool TryClose();

    /// <summary>The answer to a second push of the same (step, part) by one worker.</summary>
    protected PushOutcome Duplicate(WorkerSlot worker, string what) => PushOutcome.Duplicate(Model.Step, $"worker {worker.Id} already pushed {what}");
}
