namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// What the steps behind a worker's speed report held, for the zero-share rule (<see cref="ZeroShares"/>).
/// </summary>
/// <param name="Rows">Rows this worker computed per step (0: not reported).</param>
/// <param name="StepRows">Rows of the whole step, summed over every worker's share.</param>
/// <param name="FixedSeconds">Seconds per step its rows did not account for: parameters onto the device, gradient off
/// it, the push, its own overhead, and the pull's transfer taken as long as the push.</param>
public readonly record struct StepShape(long Rows, long StepRows, double FixedSeconds);
