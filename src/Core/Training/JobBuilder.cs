using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Data;
using GpuPs.Core.Modes;
using GpuPs.Kernels;
using GpuPs.Protocol;
using ModelKind = GpuPs.Kernels.ModelKind;


namespace GpuPs.Core.Training;

/// <summary>
/// Assembles a job from its <see cref="JobDefinition"/>: the model's shape from the data set's
/// (<see cref="DatasetCatalog.Describe"/>: a server never loads a synthetic or embedded data set to learn it), the
/// number of steps, and the validated <see cref="TrainingJob"/> that servers and workers agree on; and each shard's
/// initial parameters. The straggler model's syntax is checked by the worker side that parses it.
/// </summary>
public static class JobBuilder
{
    /// <exception cref="ArgumentException">An impossible job, in one readable line.</exception>
    /// <exception cref="FileNotFoundException">A named data file does not exist.</exception>
    /// <exception cref="DataFormatException">A data file is not a valid data set.</exception>
    public static TrainingJob Build(JobDefinition definition)
    {
        var d = definition;
        if (d.Workers <= 0) throw new ArgumentException($"workers must be at least 1 (got {d.Workers})");
        if (d.Epochs <= 0 && d.Steps <= 0) throw new ArgumentException($"epochs must be at least 1 (got {d.Epochs})");
        TrainTestSplit.CheckFraction(d.TestFraction);
        var data = DatasetCatalog.Describe(d.Dataset);
        int trainRows = TrainTestSplit.TrainRows(data.Rows, d.TestFraction);
        if (trainRows < d.Workers) throw new ArgumentException($"{d.Workers} workers but only {trainRows} training rows");
        var shape = new ModelShape(d.Model, data.Features, data.Classes, d.Model == ModelKind.Mlp ? d.Hidden : 0);
        shape.Validate();
        var job = new TrainingJob
        {
            Model = shape,
            Mode = SyncModes.Parse(d.Mode),
            Workers = d.Workers,
            Steps = d.Steps > 0 ? d.Steps : (long)d.Epochs * TrainingJob.StepsPerEpoch(trainRows, d.Workers, d.BatchSize),
            Dataset = d.Dataset,
            BatchSize = d.BatchSize,
            Seed = d.Seed,
            TestFraction = d.TestFraction,
            Staleness = d.Staleness,
            Code = string.IsNullOrEmpty(d.Code) ? "auto" : d.Code,
            Stragglers = d.Stragglers,
            StragglerModel = string.IsNullOrEmpty(d.StragglerModel) ? "none" : d.StragglerModel,
            HeartbeatTimeoutMs = d.HeartbeatTimeoutMs,
            StepTimeoutMs = d.StepTimeoutMs,
            WireFormat = TrainingJob.ParseWireFormat(d.WireFormat),
            Schedule = PushSchedules.Parse(d.Schedule),
            PushConcurrency = d.PushConcurrency,
            PieceFloats = d.PieceFloats,
            Assignment = AssignmentPolicies.Parse(d.Assignment ?? ""),
            Compression = d.Compression ?? Compression.CompressionSettings.None,
        };
        job.Validate();
        return job;
    }

    /// <summary>The initial values (seeded by the job) of the parameters <paramref name="shard"/> owns.</summary>
    public static float[] InitialParameters(TrainingJob job, ShardInfo shard) =>
        ModelInitializer.Initialize(job.Model, job.Seed).AsSpan((int)shard.Offset, (int)shard.Length).ToArray();
}
