using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The consistency rule of a shard: which pushes it takes, when it updates the parameters, and when a worker may go on.
/// Created by the job's <see cref="Modes.ISyncMode"/>; all members are called under the shard's lock. A push the rule
/// refuses comes back as a <see cref="PushOutcome"/> and changes nothing; a malformed one throws
/// <see cref="ShardException"/> before anything changes.
/// </summary>
public interface IStepAggregator
{
    /// <summary>Takes one gradient sum from <paramref name="worker"/> (or refuses it); Applied says whether it closed the step.</summary>
    PushOutcome Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum);

    /// <summary>
    /// Takes one node aggregator's push for every worker in <paramref name="workers"/> at once (distinct, registered; the
    /// first is the header's worker), or refuses it whole: the shard counts it as each of their pushes for the step, so
    /// quorums, clocks and exactly-once hold as if each had pushed. Modes whose rule cannot take a combined push throw
    /// <see cref="ShardException"/> (InvalidRequest).
    /// </summary>
    PushOutcome AcceptGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values) =>
        throw ShardException.Invalid($"this job's mode takes no node-aggregated pushes (workers {header.Contributors}); its workers push to the shards directly");

    /// <summary>
    /// Answers, from its header alone, what <see cref="Accept"/> would answer for its step: a refusal, or Applied (not
    /// closed) when the push is admissible.
    /// </summary>
    PushOutcome Admit(WorkerSlot worker, in PushHeader header);

    /// <summary>
    /// The coordinator published a new assignment, used from the open step on (called at a step boundary). Rules that
    /// sum whatever rows the pushes carry ignore it; coded aggregation decodes with the new code from now on.
    /// </summary>
    void UseAssignment(Coding.IGradientCode code) { }

    /// <summary>Called after a worker was evicted or re-admitted; returns true when that closed a step.</summary>
    bool OnMembershipChanged();

    /// <summary>May <paramref name="worker"/> read parameters for its next step (its pull with <paramref name="minStep"/>)?</summary>
    bool CanProceed(WorkerSlot worker, long minStep);

    /// <summary>The job has run all its steps.</summary>
    bool IsFinished { get; }

    /// <summary>Largest lead of a worker over the slowest expected worker that <see cref="CanProceed"/> has allowed.</summary>
    int MaxStalenessSeen { get; }

    /// <summary>Pushes refused because their step had already closed without them (stragglers' work, never applied).</summary>
    long LatePushesDropped { get; }
}
