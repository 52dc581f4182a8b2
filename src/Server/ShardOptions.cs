using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Server;

/// <summary>Everything a shard needs: the job, which key range it owns, its optimizer, its initial parameters.</summary>
public sealed record ShardOptions(JobSpec Job, ShardInfo Shard, OptimizerSettings Optimizer, float[] InitialParameters);
