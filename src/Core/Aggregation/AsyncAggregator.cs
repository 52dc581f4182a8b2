using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// Asynchronous (ASP) and stale-synchronous (SSP) parallel: every push is applied at once with its own mean gradient.
/// With a staleness bound k (SSP, Ho et al. 2013) a worker whose clock is c may read parameters only while
/// c − (slowest expected worker's clock) ≤ k; without one (ASP) it never waits.
/// </summary>
public sealed class AsyncAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, int? staleness) : IStepAggregator
{
    private readonly float[] _scratch = new float[model.Length];

    private bool _finished;

    /// <summary>Every expected worker has run all its steps. Latched: a worker re-admitted afterwards does not reopen the job.</summary>
    public bool IsFinished
    {
        get
        {
            if (_finished) return true;
            foreach (var w in workers)
                if (w.Expected && w.Clock < totalSteps) return false;
            return _finished = true;
        }
    }

    /// <inheritdoc />
    public int MaxStalenessSeen { get; private set; }

    /// <summary>Always 0: without closed steps no push is ever late.</summary>
    public long LatePushesDropped => 0;

    /// <summary>
    /// Applies an admitted push at once as one optimizer step with its own mean gradient, and advances the worker's
    /// clock; every applied push closes a step.
    /// </summary>
    public PushOutcome Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        var admitted = Admit(worker, header);
        if (!admitted.IsApplied) return admitted;
        gradientSum.CopyTo(_scratch);
        model.ApplySum(_scratch, header.SampleCount, header.LossSum);
        worker.Clock++;
        return PushOutcome.Applied(model.Step, closedStep: true, IsFinished);
    }

    /// <summary>
    /// Refuses a push that is not the worker's next step, comes after its last step, or (SSP) would take it more than the
    /// staleness bound ahead of the slowest expected worker: the bound holds for pushes too, not only for pulls, so a
    /// worker that pushes without pulling cannot run ahead.
    /// </summary>
    public PushOutcome Admit(WorkerSlot worker, in PushHeader header)
    {
        if (header.Step < worker.Clock)
            return PushOutcome.Duplicate(model.Step, $"worker {worker.Id} already pushed step {header.Step} (its clock is {worker.Clock})");
        if (header.Step > worker.Clock)
            return PushOutcome.Refused(model.Step, $"push for step {header.Step} refused: worker {worker.Id} is at step {worker.Clock}");
        if (worker.Clock >= totalSteps)
            return PushOutcome.Finished(model.Step, $"push for step {header.Step} refused: worker {worker.Id} has run all {totalSteps} steps");
        if (staleness is int bound && worker.Clock - SlowestClock() > bound)
            return PushOutcome.Refused(model.Step,
                $"push for step {header.Step} refused: worker {worker.Id} would lead the slowest worker (step {SlowestClock()}) by more than the staleness bound {bound}");
        return PushOutcome.Applied(model.Step, closedStep: false, jobFinished: false);
    }

    /// <summary>Always false: no step waits for a worker, so membership changes close none.</summary>
    public bool OnMembershipChanged() => false;

    /// <summary>
    /// True once the shard has applied <paramref name="minStep"/> updates and (SSP) the worker leads the slowest
    /// expected worker by at most the staleness bound; always true once the job has finished.
    /// </summary>
    public bool CanProceed(WorkerSlot worker, long minStep)
    {
        // The shard's step counts updates; a pull may ask to wait for a number of them, as the proto says.
        if (IsFinished) return true;
        if (model.Step < minStep) return false;
        if (staleness is not int bound) return true;
        long lead = worker.Clock - SlowestClock();
        if (lead > bound) return false;
        MaxStalenessSeen = (int)Math.Max(MaxStalenessSeen, lead);
        return true;
    }

    private long SlowestClock()
    {
        long min = long.MaxValue;
        foreach (var w in workers)
            if (w.Expected && w.Clock < totalSteps) min = Math.Min(min, w.Clock);
        return min == long.MaxValue ? totalSteps : min;
    }
}
