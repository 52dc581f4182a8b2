using GpuPs.Core.Modes;
using GpuPs.Kernels;
using GpuPs.Protocol;
using KernelModel = GpuPs.Kernels.ModelKind;
using WireModel = GpuPs.Protocol.ModelKind;

namespace GpuPs.Core.Training;

/// <summary>Validation of a <see cref="JobSpec"/> and its translation to kernel types.</summary>
public static class JobSpecRules
{
    /// <summary>Throws <see cref="ArgumentException"/> with one readable line for an impossible job.</summary>
    public static void Validate(JobSpec job)
    {
        if (job.Workers <= 0) throw new ArgumentException($"workers must be at least 1 (got {job.Workers})");
        var mode = SyncModes.Of(job.Mode);
        if (job.Stragglers < 0 || job.Stragglers >= job.Workers)
            throw new ArgumentException($"stragglers must be in 0..{job.Workers - 1} for {job.Workers} workers (got {job.Stragglers})");
        if (job.Stragglers > 0 && !mode.ToleratesStragglers)
        {
            var tolerant = SyncModes.All.Where(m => m.ToleratesStragglers).Select(m => m.Name).ToArray();
            throw new ArgumentException($"stragglers (s = {job.Stragglers}) apply to the {string.Join(", ", tolerant[..^1])} and {tolerant[^1]} modes; {mode.Name} ignores them");
        }
        mode.Assignment(job);
        if (job.Staleness < 0) throw new ArgumentException($"staleness must be >= 0 (got {job.Staleness})");
        if (job.Steps <= 0) throw new ArgumentException($"steps must be at least 1 (got {job.Steps})");
        if (job.BatchSize < 0) throw new ArgumentException($"batch size must be >= 0, 0 meaning the whole partition (got {job.BatchSize})");
        if (job.TestFraction <= 0 || job.TestFraction >= 1) throw new ArgumentException($"test fraction must be in (0, 1) (got {job.TestFraction})");
        if (job.HeartbeatTimeoutMs <= 0) throw new ArgumentException($"heartbeat timeout must be positive (got {job.HeartbeatTimeoutMs} ms)");
        if (job.StepTimeoutMs <= 0) throw new ArgumentException($"step timeout must be positive (got {job.StepTimeoutMs} ms)");
        var shape = ToModelShape(job);
        shape.Validate();
        if (job.ParameterCount != shape.ParameterCount)
            throw new ArgumentException($"parameter count {job.ParameterCount} does not match the model ({shape.ParameterCount})");
    }

    /// <summary>
    /// The kernel shape of the job's model (hidden width only for an MLP, else 0); not validated, see
    /// <see cref="ModelShape.Validate"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The model is unspecified or unknown.</exception>
    public static ModelShape ToModelShape(JobSpec job) => new(
        job.Model switch
        {
            WireModel.Logistic => KernelModel.Logistic,
            WireModel.Softmax => KernelModel.Softmax,
            WireModel.Mlp => KernelModel.Mlp,
            _ => throw new ArgumentException("model must be logistic, softmax or mlp"),
        },
        job.Features, job.Classes, job.Model == WireModel.Mlp ? job.Hidden : 0);

    /// <summary>The wire (proto) value of a kernel model kind.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined model.</exception>
    public static WireModel ToWire(KernelModel kind) => kind switch
    {
        KernelModel.Logistic => WireModel.Logistic,
        KernelModel.Softmax => WireModel.Softmax,
        KernelModel.Mlp => WireModel.Mlp,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// Steps one pass over a partition takes: the training rows split into <paramref name="workers"/> partitions, each
    /// contributing <paramref name="batchSize"/> rows per step (0: the whole partition).
    /// </summary>
    public static int StepsPerEpoch(int trainRows, int workers, int batchSize)
    {
        int partitionRows = trainRows / workers;
        return batchSize <= 0 || batchSize >= partitionRows ? 1 : (partitionRows + batchSize - 1) / batchSize;
    }
}
