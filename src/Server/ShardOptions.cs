using GpuPs.Core.Checkpoints;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server.Observers;

namespace GpuPs.Server;

/// <summary>
/// Everything a shard needs: the job, which key range it owns, its optimizer, its initial parameters, the clock its
/// liveness checks and step times read (the system clock; tests pass a manual one to evict a worker without sleeping),
/// the observers that hear its events, and the checkpoint it resumes from (null: it starts at step 0).
/// </summary>
public sealed record ShardOptions(
    TrainingJob Job, ShardInfo Shard, OptimizerSettings Optimizer, float[] InitialParameters,
    TimeProvider? Time = null, IReadOnlyList<IShardObserver>? Observers = null, ShardCheckpoint? Resume = null);
