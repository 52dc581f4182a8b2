namespace GpuPs.Worker;

/// <summary>
/// Where one of a worker's steps went, in seconds, phase by phase: the worker's half of the per-step timeline (the
/// shard's half is its step and update times, <c>StatusReply.step_seconds</c> and <c>step_update_seconds</c>).
/// </summary>
/// <param name="Step">The step.</param>
/// <param name="PullSeconds">Waiting for the step's parameters after the previous step's push was answered: the wait for
/// the other workers, the shard's update and the pull's transfer (the pull itself was issued during the previous step).</param>
/// <param name="ComputeSeconds">Gradient kernels (a coded job's encode is fused into them; a throttled worker's repeats too).</param>
/// <param name="EncodeSeconds">Reading the gradient off the device into the message buffer, and rounding it to its wire
/// encoding with error feedback (bfloat16, top-k, sign): <paramref name="CompressSeconds"/> of it.</param>
/// <param name="PushSeconds">From the end of the compute until every shard answered the push (per-partition pushes that
/// overlap the compute count only for what remains).</param>
/// <param name="StartedAt">When the step's parameters had arrived (the compute began), as Unix seconds on this machine's
/// clock: it places the phases beside other processes' and the link's on one time axis (<c>bench network</c>'s timeline).</param>
/// <param name="LoadSeconds">Copying the parameters onto the compute device before the kernels ran.</param>
/// <param name="CompressSeconds">The part of <paramref name="EncodeSeconds"/> spent rounding to the wire encoding.</param>
/// <param name="DelaySeconds">Waiting out a delay the step hook injected (<c>--straggler-model</c>): no work.</param>
/// <param name="WallSeconds">The whole step: from the previous step's push being answered (or abandoned) until this
/// step's push was answered, so a worker's steps tile its time. The phases above lie within it, one after another; what
/// they leave is the worker's own overhead (the step loop, a proportional job's assignment check, task scheduling).
/// The first step since the worker started begins where its pull began.</param>
public readonly record struct WorkerStepPhases(long Step, double PullSeconds, double ComputeSeconds, double EncodeSeconds, double PushSeconds,
    double StartedAt = 0, double LoadSeconds = 0, double CompressSeconds = 0, double DelaySeconds = 0, double WallSeconds = 0)
{
    /// <summary>
    /// What <see cref="WallSeconds"/> leaves after every measured phase: the host's own overhead, never below zero but
    /// for rounding of the clock.
    /// </summary>
    public double OtherSeconds => WallSeconds - PullSeconds - LoadSeconds - ComputeSeconds - EncodeSeconds - DelaySeconds - PushSeconds;
}
