using System.IO.Hashing;
using System.Runtime.InteropServices;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Core.Compression;

/// <summary>
/// The start every process of a job can derive on its own: the seeded initial parameters (<see cref="JobBuilder.InitialParameters"/>).
/// With compressed pulls a server that still holds it records a registering worker's copy as that start, so the worker's
/// first pull is a delta instead of the whole shard (at 1 % top-k, 8 workers and a full pull every 50th, the first full
/// pulls were a third of all pulled bytes: docs/benchmarks.md). Both sides check the start by its hash, so a copy is
/// only ever taken when it is bit-identical to the server's record.
/// </summary>
public static class SharedStart
{
    /// <summary>XXH3-64 of <paramref name="parameters"/> as little-endian float32 (what the wire carries).</summary>
    public static ulong Hash(ReadOnlySpan<float> parameters) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(parameters));

    /// <summary>
    /// The start of each shard in <paramref name="layout"/> whose hash is the one its server offered
    /// (<paramref name="offeredHashes"/>, null where it offered none), in shard order; null where the server offered none
    /// or the derived start hashes otherwise (a server started from other values): that shard is pulled in full. The
    /// model is initialised once, and only if any server offered.
    /// </summary>
    public static float[]?[] Derive(TrainingJob job, IReadOnlyList<ShardInfo> layout, IReadOnlyList<ulong?> offeredHashes)
    {
        var starts = new float[]?[layout.Count];
        if (offeredHashes.All(h => h is null)) return starts;
        var model = ModelInitializer.Initialize(job.Model, job.Seed);
        for (int i = 0; i < layout.Count; i++)
        {
            if (offeredHashes[i] is not { } offered) continue;
            var slice = model.AsSpan((int)layout[i].Offset, (int)layout[i].Length);
            if (Hash(slice) == offered) starts[i] = slice.ToArray();
        }
        return starts;
    }
}
