namespace GpuPs.Worker;

/// <summary>How a worker overlaps its compute with its communication (<c>--overlap</c>).</summary>
public enum ComputeOverlap
{
    /// <summary>Compute the whole gradient, then push it.</summary>
    None,

    /// <summary>
    /// Compute the backward pass block by block in the order the push's pieces go and send each piece as soon as its
    /// block is done (<see cref="StepComputation.WavefrontRefusal"/> says where it applies: the MLP in BSP with pieces),
    /// in lockstep with the other workers (<see cref="TrainingWorker.WavefrontRangesAhead"/>); elsewhere the worker
    /// computes as with <see cref="None"/> and logs why.
    /// </summary>
    Wavefront,
}
