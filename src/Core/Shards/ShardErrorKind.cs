namespace GpuPs.Core.Shards;

/// <summary>Why a shard request failed, independent of the transport that carried it.</summary>
public enum ShardErrorKind
{
    /// <summary>The request itself is wrong (sizes, values, ids, a malformed frame); repeating it fails again.</summary>
    InvalidRequest,

    /// <summary>The worker id is not registered with the shard (or out of the job's range).</summary>
    UnknownWorker,

    /// <summary>Every worker slot of the job is taken by a registered worker; the server assigns no id.</summary>
    JobFull,

    /// <summary>
    /// The requested worker id is held by another live client (another client token); it frees up once that client has
    /// been silent for the job's heartbeat timeout and is evicted.
    /// </summary>
    SlotTaken,

    /// <summary>The shard could not be reached or failed mid-call; the same call may succeed later.</summary>
    Unavailable,

    /// <summary>The call's deadline passed before the shard answered.</summary>
    Timeout,

    /// <summary>The call carried no valid job token (see <see cref="GpuPs.Core.Security.JobToken"/>); it never reached the shard.</summary>
    Unauthenticated,
}
