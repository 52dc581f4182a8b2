using GpuPs.Protocol;

namespace GpuPs.Core.Training;

/// <summary>Splits a flat parameter vector into contiguous, near-equal key ranges, one per server shard.</summary>
public static class ShardLayout
{
    /// <summary>The shards of a vector of <paramref name="parameterCount"/> floats; shard i owns [Offset, Offset+Length).</summary>
    public static ShardInfo[] Compute(long parameterCount, int shards)
    {
        if (shards <= 0) throw new ArgumentException($"need at least one server shard (got {shards})");
        if (parameterCount < shards) throw new ArgumentException($"cannot split {parameterCount} parameters over {shards} shards");
        var result = new ShardInfo[shards];
        long baseLength = parameterCount / shards, extra = parameterCount % shards, offset = 0;
        for (int i = 0; i < shards; i++)
        {
            long length = baseLength + (i < extra ? 1 : 0);
            result[i] = new ShardInfo { Index = i, Count = shards, Offset = offset, Length = length };
            offset += length;
        }
        return result;
    }
}
