namespace GpuPs.Core.Aggregation;

/// <summary>What a shard knows of one worker id. Mutated only under the shard's lock.</summary>
public sealed class WorkerSlot(int id)
{
    /// <summary>Worker id 0 … n − 1: the slot's index in the shard, the worker's row in a gradient code.</summary>
    public int Id { get; } = id;
    /// <summary>A worker has registered under this id; never cleared (an evicted slot stays registered).</summary>
    public bool Registered { get; set; }
    /// <summary>Registered and then silent for longer than the heartbeat timeout; not waited for until it calls again.</summary>
    public bool Evicted { get; set; }
    /// <summary>Pushes accepted from this worker: its iteration clock (the SSP clock).</summary>
    public long Clock { get; set; }
    /// <summary>When the worker last called, in milliseconds on the shard's clock; drives eviction.</summary>
    public long LastSeenMs { get; set; }
    /// <summary>The node the worker reported at registration; informational.</summary>
    public string Host { get; set; } = "";
    /// <summary>The accelerator the worker reported at registration; informational.</summary>
    public string Device { get; set; } = "";
    /// <summary>The registering process's token (empty when it sent none): only the same token may register this slot again while it is live.</summary>
    public string ClientToken { get; set; } = "";

    /// <summary>Counted in quorums: not evicted (a worker not registered yet is still expected).</summary>
    public bool Expected => !Evicted;
}
