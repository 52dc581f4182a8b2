namespace GpuPs.Protocol;

/// <summary>The header fields of a pushed gradient (see <c>PushChunk</c> in proto/gpups.proto).</summary>
public readonly record struct PushHeader(int WorkerId, long Step, int Shard, long SampleCount, double LossSum);

/// <summary>A pulled shard: its step, where it sits in the full vector, and whether the job is finished.</summary>
public readonly record struct PullResult(long Step, int Shard, long Offset, int Length, bool Finished);
