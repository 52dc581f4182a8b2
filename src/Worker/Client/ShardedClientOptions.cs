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
}
