namespace GpuPs.Worker;

/// <summary>
/// Where one of a worker's steps went, in seconds, phase by phase: the worker's half of the per-step timeline (the
/// shard's half is its step and update times, <c>StatusReply.step_seconds</c> and <c>step_update_seconds</c>).
/// </summary>
/// <param name="Step">The step.</param>
/// <param name="PullSeconds">Waiting for the step's parameters after the previous step's push was answered: the wait for
/// the other workers, the shard's update and the pull's transfer (the pull itself was issued during the previous step).</param>
/// <param name="ComputeSeconds">Gradient kernels (a coded job's encode is fused into them).</param>
/// <param name="EncodeSeconds">Reading the gradient off the device into the message buffer, and rounding it to its wire
/// encoding with error feedback (bfloat16, top-k, sign).</param>
/// <param name="PushSeconds">From the end of the compute until every shard answered the push (per-partition pushes that
/// overlap the compute count only for what remains).</param>
/// <param name="StartedAt">When the step's parameters had arrived (the compute began), as Unix seconds on this machine's
/// clock: it places the phases beside other processes' and the link's on one time axis (<c>bench network</c>'s timeline).</param>
public readonly record struct WorkerStepPhases(long Step, double PullSeconds, double ComputeSeconds, double EncodeSeconds, double PushSeconds,
    double StartedAt = 0);
