namespace GpuPs.Server.Observers;

/// <summary>One closed step of a shard.</summary>
/// <param name="Shard">Index of the shard.</param>
/// <param name="Step">The shard's step after the update (the closed step is Step − 1).</param>
/// <param name="Duration">Wall time from the previous close (or the shard's start) to this one.</param>
/// <param name="MeanLoss">Mean per-row training loss reported with the update.</param>
/// <param name="JobFinished">This update was the job's last on the shard.</param>
public readonly record struct StepClosed(int Shard, long Step, TimeSpan Duration, double MeanLoss, bool JobFinished);
