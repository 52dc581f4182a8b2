using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Server.Observers;

/// <summary>
/// Hears what a <see cref="ParameterShard"/> does, so that metrics, checkpoints and a coordinator hang off the shard
/// instead of editing it. Every member has an empty default: implement what you need.
/// </summary>
/// <remarks>
/// Called synchronously under the shard's lock, in the order the events happen: keep handlers short, never block, and
/// never call back into the shard (copy what you need and hand slow work to another thread). An observer that throws is
/// logged and does not disturb the shard or the other observers.
/// </remarks>
public interface IShardObserver
{
    /// <summary>A step closed: the parameters were updated.</summary>
    void OnStepClosed(in StepClosed closed) { }

    /// <summary>
    /// Right after <see cref="OnStepClosed"/>: the shard's parameters at <paramref name="step"/> (the shard's step after
    /// the update), valid only during the call. Called at every close: an observer that keeps some copies them, and
    /// that copy is a memcpy under the shard's lock (<see cref="ParameterSnapshots"/> copies one step in an epoch).
    /// </summary>
    void OnParameters(long step, ReadOnlySpan<float> parameters) { }

    /// <summary>A push was not applied (late, duplicate, finished, refused by the mode's rule, or malformed).</summary>
    void OnPushRefused(in PushHeader header, in PushOutcome outcome) { }

    /// <summary>A worker registered, rejoined, was evicted for silence, or came back.</summary>
    void OnMembershipChanged(in MembershipChange change) { }
}
