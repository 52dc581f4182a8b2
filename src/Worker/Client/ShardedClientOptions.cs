namespace GpuPs.Worker.Client;

/// <summary>How a <see cref="ShardedParameterClient"/> calls its shards.</summary>
/// <param name="CallTimeout">Deadline of each call (null: the transport's default). A pull that waits for other workers
/// longer than this is simply repeated while the shard answers heartbeats.</param>
/// <param name="MaxRetries">Consecutive failed attempts of one call (shard unreachable) before the client gives up.</param>
public sealed record ShardedClientOptions(TimeSpan? CallTimeout = null, int MaxRetries = 8)
{
    /// <summary>
    /// How long a registration under a requested worker id keeps asking while another live client holds that id
    /// (<see cref="GpuPs.Core.Shards.ShardErrorKind.SlotTaken"/>): a worker restarted after a crash waits for the server
    /// to evict its silent predecessor, which takes the job's heartbeat timeout (10 s by default).
    /// </summary>
    public TimeSpan SlotWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Steps of this worker's pushes kept in a <see cref="PushLog"/> (0: none), so that a shard restarted alone from a
    /// checkpoint this many steps old is brought up to the others' step by pushing them again. Set it above the servers'
    /// <c>--checkpoint-every</c> plus the steps a shard runs while it writes one checkpoint (the writer skips the ones due
    /// meanwhile: 238 steps apart at <c>--checkpoint-every 50</c> with 0.5 ms steps on a loaded 2-core VM); a pull that
    /// finds a shard further behind fails (see <see cref="ShardedParameterClient.PullAsync"/>). Each step costs a copy of
    /// the gradient in memory.
    /// </summary>
    public int PushLogSteps { get; init; }

    /// <summary>Split pushes and pulls into pieces sent by priority under a credit (<see cref="Scheduling.PieceOptions"/>); null: whole tensors.</summary>
    public Scheduling.PieceOptions? Pieces { get; init; }

    /// <summary>
    /// Lockstep for a job whose shards close per range (0: off): a push's piece of range r waits until this worker's pull
    /// of the next step has received range r − RangesAhead of the shard (that range closed), so no worker runs more than
    /// this many ranges ahead of the slowest, and ranges close one after another from the start of the pushes instead of
    /// together at the end (16 workers on one link drift apart by several ranges otherwise: docs/benchmarks.md, the
    /// wavefront). Only while that pull is under way (the worker's prefetch).
    /// </summary>
    public int RangesAhead { get; init; }
}
