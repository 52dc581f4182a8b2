using GpuPs.Core.Compression;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using KernelModel = GpuPs.Kernels.ModelKind;
using WireModel = GpuPs.Protocol.ModelKind;

namespace GpuPs.Protocol;

/// <summary>
/// A <see cref="TrainingJob"/> as the proto <see cref="JobSpec"/> that servers send workers (in a registration and a
/// status reply), and back. The only place that knows both.
/// </summary>
public static class JobSpecWire
{
    /// <summary>The job on the wire.</summary>
    public static JobSpec ToWire(TrainingJob job) => new JobSpec
    {
        Model = job.Model.Kind switch
        {
            KernelModel.Logistic => WireModel.Logistic,
            KernelModel.Softmax => WireModel.Softmax,
            KernelModel.Mlp => WireModel.Mlp,
            _ => throw new ArgumentOutOfRangeException(nameof(job), job.Model.Kind, "not a defined model"),
        },
        Features = job.Model.Features,
        Classes = job.Model.Classes,
        Hidden = job.Model.Hidden,
        ParameterCount = job.ParameterCount,
        Mode = job.Mode.Mode,
        Staleness = job.Staleness,
        Workers = job.Workers,
        Steps = job.Steps,
        BatchSize = job.BatchSize,
        Seed = job.Seed,
        Dataset = job.Dataset,
        TestFraction = job.TestFraction,
        HeartbeatTimeoutMs = job.HeartbeatTimeoutMs,
        StepTimeoutMs = job.StepTimeoutMs,
        Code = job.Code,
        Stragglers = job.Stragglers,
        StragglerModel = job.StragglerModel,
        WireFormat = TrainingJob.WireFormatName(job.WireFormat),
        Schedule = PushSchedules.Name(job.Schedule),
        PushConcurrency = job.PushConcurrency,
        PieceFloats = job.PieceFloats,
        // Empty for uniform, so the fingerprints (and checkpoints) of uniform jobs stay what they were.
        Assignment = job.Assignment == AssignmentPolicy.Uniform ? "" : AssignmentPolicies.Name(job.Assignment),
    }.WithCompression(job.Compression);

    /// <summary>
    /// The compression fields, only for a job that compresses: an uncompressed job's spec (and fingerprint, and
    /// checkpoints) stays what it was.
    /// </summary>
    private static JobSpec WithCompression(this JobSpec spec, CompressionSettings compression)
    {
        if (!compression.Any) return spec;
        spec.Compression = compression.Push == CompressionKind.None ? "" : CompressionKinds.Name(compression.Push);
        spec.PullCompression = compression.Pull == CompressionKind.None ? "" : CompressionKinds.Name(compression.Pull);
        spec.TopkRatio = compression.TopKRatio;
        spec.MomentumCorrection = compression.Momentum;
        spec.FullPullEvery = compression.FullPullEvery;
        return spec;
    }

    private static CompressionSettings CompressionOf(JobSpec spec) =>
        spec.Compression.Length == 0 && spec.PullCompression.Length == 0
            ? CompressionSettings.None
            : new CompressionSettings(CompressionKinds.Parse(spec.Compression), CompressionKinds.Parse(spec.PullCompression),
                spec.TopkRatio, spec.MomentumCorrection, spec.FullPullEvery);

    /// <summary>The job a server sent, validated.</summary>
    /// <exception cref="ArgumentException">The spec describes an impossible job (one readable line).</exception>
    public static TrainingJob FromWire(JobSpec spec)
    {
        var model = new Kernels.ModelShape(
            spec.Model switch
            {
                WireModel.Logistic => KernelModel.Logistic,
                WireModel.Softmax => KernelModel.Softmax,
                WireModel.Mlp => KernelModel.Mlp,
                _ => throw new ArgumentException("model must be logistic, softmax or mlp"),
            },
            spec.Features, spec.Classes, spec.Model == WireModel.Mlp ? spec.Hidden : 0);
        var job = new TrainingJob
        {
            Model = model,
            Mode = SyncModes.Of(spec.Mode),
            Workers = spec.Workers,
            Steps = spec.Steps,
            Dataset = spec.Dataset,
            BatchSize = spec.BatchSize,
            Seed = spec.Seed,
            TestFraction = spec.TestFraction,
            Staleness = spec.Staleness,
            Code = string.IsNullOrEmpty(spec.Code) ? "auto" : spec.Code,
            Stragglers = spec.Stragglers,
            StragglerModel = string.IsNullOrEmpty(spec.StragglerModel) ? "none" : spec.StragglerModel,
            HeartbeatTimeoutMs = spec.HeartbeatTimeoutMs,
            StepTimeoutMs = spec.StepTimeoutMs,
            WireFormat = TrainingJob.ParseWireFormat(spec.WireFormat),
            Schedule = PushSchedules.Parse(spec.Schedule),
            PushConcurrency = spec.PushConcurrency == 0 ? 1 : spec.PushConcurrency,
            PieceFloats = spec.PieceFloats,
            Assignment = AssignmentPolicies.Parse(spec.Assignment),
            Compression = CompressionOf(spec),
        };
        job.Validate();
        if (spec.ParameterCount != job.ParameterCount)
            throw new ArgumentException($"parameter count {spec.ParameterCount} does not match the model ({job.ParameterCount})");
        return job;
    }
}
