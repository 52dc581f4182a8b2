namespace GpuPs.Core.Shards;

/// <summary>
/// The answer to one push. Only <see cref="PushOutcomeKind.Applied"/> changed anything; every other kind is an ordinary
/// answer of the consistency rule (not an error): the pusher drops the message and goes on.
/// </summary>
/// <param name="Step">The shard's step after the push.</param>
/// <param name="ClosedStep">Applied, and the push closed the step (the parameters changed).</param>
/// <param name="JobFinished">The job has run all its steps on this shard.</param>
/// <param name="Reason">Why a push was not applied, in words; empty when applied.</param>
public readonly record struct PushOutcome(PushOutcomeKind Kind, long Step, bool ClosedStep = false, bool JobFinished = false, string Reason = "")
{
    public bool IsApplied => Kind == PushOutcomeKind.Applied;

    public static PushOutcome Applied(long step, bool closedStep, bool jobFinished) => new(PushOutcomeKind.Applied, step, closedStep, jobFinished);

    public static PushOutcome Late(long step, string reason) => new(PushOutcomeKind.Late, step, Reason: reason);

    public static PushOutcome Duplicate(long step, string reason) => new(PushOutcomeKind.Duplicate, step, Reason: reason);

    public static PushOutcome Finished(long step, string reason) => new(PushOutcomeKind.Finished, step, JobFinished: true, Reason: reason);

    public static PushOutcome Refused(long step, string reason) => new(PushOutcomeKind.Refused, step, Reason: reason);

    public override string ToString() => IsApplied ? $"applied at step {Step}{(ClosedStep ? " (closed it)" : "")}" : $"{Kind}: {Reason}";
}
