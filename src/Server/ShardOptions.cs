using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server.Observers;

namespace GpuPs.Server;

/// <summary>
/// Everything a shard needs: the job, which key range it owns, its optimizer, its initial parameters, the clock its
/// liveness checks and step times read (the system clock; tests pass a manual one to evict a worker without sleeping),
/// and the observers that hear its events.
/// </summary>
public sealed record ShardOptions(
    TrainingJob Job, ShardInfo Shard, OptimizerSettings Optimizer, float[] InitialParameters,
    TimeProvider? Time = null, IReadOnlyList<IShardObserver>? Observers = null);
