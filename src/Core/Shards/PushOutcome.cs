namespace GpuPs.Core.Shards;

/// <summary>
/// The answer to one push. Only <see cref="PushOutcomeKind.Applied"/> changed anything; every other kind is an ordinary
/// answer of the consistency rule (not an error): the pusher drops the message and goes on.
/// </summary>
/// <param name="Kind">What the shard did with the push.</param>
/// <param name="Step">The shard's step after the push.</param>
/// <param name="ClosedStep">Applied, and the push closed the step (the parameters changed).</param>
/// <param name="JobFinished">The job has run all its steps on this shard.</param>
/// <param name="Reason">Why a push was not applied, in words; empty when applied.</param>
public readonly record struct PushOutcome(PushOutcomeKind Kind, long Step, bool ClosedStep = false, bool JobFinished = false, string Reason = "")
{
    /// <summary>The push was taken into its step; every other kind changed nothing.</summary>
    public bool IsApplied => Kind == PushOutcomeKind.Applied;

    /// <summary>An applied push (<see cref="PushOutcomeKind.Applied"/>).</summary>
    public static PushOutcome Applied(long step, bool closedStep, bool jobFinished) => new(PushOutcomeKind.Applied, step, closedStep, jobFinished);

    /// <summary>A straggler's push for a step that closed without it (<see cref="PushOutcomeKind.Late"/>).</summary>
    public static PushOutcome Late(long step, string reason) => new(PushOutcomeKind.Late, step, Reason: reason);

    /// <summary>A second push of what the worker already pushed (<see cref="PushOutcomeKind.Duplicate"/>).</summary>
    public static PushOutcome Duplicate(long step, string reason) => new(PushOutcomeKind.Duplicate, step, Reason: reason);

    /// <summary>A push after the last step (<see cref="PushOutcomeKind.Finished"/>, with JobFinished).</summary>
    public static PushOutcome Finished(long step, string reason) => new(PushOutcomeKind.Finished, step, JobFinished: true, Reason: reason);

    /// <summary>A push the mode's rule refuses for another reason (<see cref="PushOutcomeKind.Refused"/>).</summary>
    public static PushOutcome Refused(long step, string reason) => new(PushOutcomeKind.Refused, step, Reason: reason);

    /// <summary>The outcome in words, for logs.</summary>
    public override string ToString() => IsApplied ? $"applied at step {Step}{(ClosedStep ? " (closed it)" : "")}" : $"{Kind}: {Reason}";
}
