using GpuPs.Core.Coding;
using GpuPs.Protocol;

namespace GpuPs.Core.Training;

/// <summary>The assignment of data partitions to workers that a job's mode uses.</summary>
public static class JobCodes
{
    /// <summary>
    /// Coded and multi-message jobs use the job's gradient code ("auto": fractional repetition where (s+1) | n, its
    /// decode weights are 0/1, else the cyclic code); every other mode gives worker i partition i alone.
    /// </summary>
    public static IGradientCode Create(JobSpec job) => job.Mode is SyncMode.Coded or SyncMode.MultiMessage
        ? GradientCodeFactory.Create(string.IsNullOrEmpty(job.Code) ? "auto" : job.Code, job.Workers, job.Stragglers)
        : new UncodedAssignment(job.Workers);
}
