using GpuPs.Kernels;

namespace GpuPs.Core.Checkpoints;

/// <summary>
/// Everything a shard needs to go on from a step after its process is gone: the parameters it owns, its optimizer's
/// state, the step, and each worker's clock (the SSP and ASP rules read them), tied to the job it belongs to.
/// </summary>
/// <param name="JobFingerprint">Identifies the job (<see cref="JobFingerprints.Of"/>): a checkpoint of another job is refused.</param>
/// <param name="Shard">Which shard of how many.</param>
/// <param name="Shards">Shards of the job.</param>
/// <param name="Offset">Where the shard's parameters start in the full vector.</param>
/// <param name="Step">Updates applied when the checkpoint was taken.</param>
/// <param name="Parameters">The shard's parameters at <paramref name="Step"/>.</param>
/// <param name="Optimizer">The optimizer's state at <paramref name="Step"/>.</param>
/// <param name="WorkerClocks">Each worker's clock (pushes accepted from it).</param>
public sealed record ShardCheckpoint(
    string JobFingerprint, int Shard, int Shards, long Offset, long Step, float[] Parameters, OptimizerState Optimizer, long[] WorkerClocks);
