namespace GpuPs.Server.Observers;

/// <summary>How a shard's view of one worker changed.</summary>
public enum MembershipEvent
{
    /// <summary>A new worker took a slot.</summary>
    Registered,

    /// <summary>A registered worker registered again (a restarted process, or a retried registration).</summary>
    Rejoined,

    /// <summary>Silent for longer than the heartbeat timeout: the shard no longer waits for it.</summary>
    Evicted,

    /// <summary>An evicted worker called again and is waited for again.</summary>
    Returned,
}
