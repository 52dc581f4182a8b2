using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Worker.Transport;

/// <summary>
/// The control plane to one parameter shard: membership, liveness and status. Same deadline, cancellation and error
/// contract as <see cref="ITensorChannel"/> (failures are <see cref="ShardException"/> or
/// <see cref="OperationCanceledException"/>); thread-safe.
/// </summary>
public interface IShardControl
{
    /// <summary>Joins the job (or rejoins as <c>RequestedWorkerId</c>); the reply names the job, the shard's key range and the step to resume at.</summary>
    Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>
    /// Tells the shard the worker is alive and which step it computes; to the coordinator (shard 0) of a round-robin job
    /// it also reports the worker's measured times, and the reply carries its push slot.
    /// </summary>
    Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>
    /// Waits for this push's turn on the shard's link (a round-robin job: at most its push concurrency of pushes at a
    /// time, in the coordinator's order); the worker sends nothing of the push before the answer. <c>closed</c>: the
    /// push's step (or range) closed without it. The default grants at once (a plane with no turns).
    /// </summary>
    Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        Task.FromResult(new PushTurnReply { Granted = true, Step = request.Step });

    /// <summary>The shard's counters, step history and job.</summary>
    Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null);
}
