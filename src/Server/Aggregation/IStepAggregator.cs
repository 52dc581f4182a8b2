using GpuPs.Protocol;

namespace GpuPs.Server.Aggregation;

/// <summary>
/// The consistency rule of a shard: which pushes it takes, when it updates the parameters, and when a worker may go on.
/// All members are called under the shard's lock. A refusal throws <see cref="GpuPsException"/> before anything changes.
/// </summary>
public interface IStepAggregator
{
    /// <summary>Validates and takes one gradient sum from <paramref name="worker"/>; returns true when the parameters changed.</summary>
    bool Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum);

    /// <summary>Refuses, from its header alone, a push that <see cref="Accept"/> would refuse for its step.</summary>
    void Admit(WorkerSlot worker, in PushHeader header) { }

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
