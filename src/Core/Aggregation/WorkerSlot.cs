namespace GpuPs.Core.Aggregation;

/// <summary>What a shard knows of one worker id. Mutated only under the shard's lock.</summary>
public sealed class WorkerSlot(int id)
{
    public int Id { get; } = id;
    public bool Registered { get; set; }
    /// <summary>Registered and then silent for longer than the heartbeat timeout; not waited for until it calls again.</summary>
    public bool Evicted { get; set; }
    /// <summary>Pushes accepted from this worker: its iteration clock (the SSP clock).</summary>
    public long Clock { get; set; }
    public long LastSeenMs { get; set; }
    public string Host { get; set; } = "";
    public string Device { get; set; } = "";
    public double MeasuredSpeed { get; set; }
    /// <summary>The registering process's token (empty when it sent none): only the same token may register this slot again while it is live.</summary>
    public string ClientToken { get; set; } = "";

    /// <summary>Counted in quorums: not evicted (a worker not registered yet is still expected).</summary>
    public bool Expected => !Evicted;
}
