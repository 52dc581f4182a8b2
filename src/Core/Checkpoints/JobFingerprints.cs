using System.Security.Cryptography;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Google.Protobuf;

namespace GpuPs.Core.Checkpoints;

/// <summary>A short, stable identity of a job, so that a shard never resumes from another job's checkpoint.</summary>
public static class JobFingerprints
{
    /// <summary>The SHA-256 (hex, first 16 bytes) of the job's wire form: equal exactly when every job setting is.</summary>
    public static string Of(TrainingJob job) =>
        Convert.ToHexStringLower(SHA256.HashData(JobSpecWire.ToWire(job).ToByteArray()).AsSpan(0, 16));
}
