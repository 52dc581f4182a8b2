using GpuPs.Core.Compression;
using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Worker.Client;

public sealed partial class ShardedParameterClient
{
    /// <summary>
    /// After a registration, each shard's copy for compressed pulls starts as the job's seeded start where that shard
    /// offered it and the start derived here hashes as the shard's (<see cref="SharedStart"/>): the first pull is then a
    /// delta. Anywhere else the copy is forgotten and the next pull comes in full: a late join, a rejoin, a resumed
    /// shard, or a shard started from values this worker cannot derive (logged).
    /// </summary>
    private void StartCopies(TrainingJob job, RegisterReply[] replies)
    {
        var offered = replies.Select(r => r.StartViewVersion > 0 ? r.StartViewHash : (ulong?)null).ToArray();
        var starts = SharedStart.Derive(job, _layout, offered);
        for (int i = 0; i < replies.Length; i++)
        {
            if (starts[i] is { } start)
            {
                _copies[i].Start(start, replies[i].StartViewVersion);
                continue;
            }
            if (offered[i] is not null)
                _log.Warning("Shard {Shard} at {Server} offered its start as this worker's copy, but the start derived from the job's seed hashes otherwise: pulling it in full",
                    i, _shards[i].Address);
            _copies[i].Reset();
        }
    }
}
