using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Worker.Client;

/// <summary>What joining a sharded job gave a worker.</summary>
/// <param name="WorkerId">The id every shard admitted the worker under.</param>
/// <param name="Job">The job every shard runs (they agree, or registration fails).</param>
/// <param name="Layout">Shard i owns parameters [Offset, Offset + Length) of the full vector.</param>
/// <param name="Step">The step to resume at: the lowest any shard named.</param>
public sealed record Registration(int WorkerId, TrainingJob Job, IReadOnlyList<ShardInfo> Layout, long Step);
