using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Stragglers;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>Turns <see cref="TrainSettings"/> into the job every process agrees on, and builds shards for it.</summary>
public static class JobFactory
{
    /// <summary>Loads the data once to learn its shape and returns the validated job.</summary>
    public static (JobSpec Job, PreparedData Data) CreateJob(TrainSettings s)
    {
        if (s.Workers <= 0) throw new ArgumentException($"workers must be at least 1 (got {s.Workers})");
        if (s.Epochs <= 0 && s.Steps <= 0) throw new ArgumentException($"epochs must be at least 1 (got {s.Epochs})");
        var data = PreparedData.Prepare(s.Dataset, s.TestFraction, s.Seed);
        if (data.Train.Rows < s.Workers)
            throw new ArgumentException($"{s.Workers} workers but only {data.Train.Rows} training rows");
        var shape = new ModelShape(s.Model, data.Train.FeatureCount, data.Train.ClassCount, s.Model == Kernels.ModelKind.Mlp ? s.Hidden : 0);
        shape.Validate();
        long steps = s.Steps > 0 ? s.Steps : (long)s.Epochs * JobSpecRules.StepsPerEpoch(data.Train.Rows, s.Workers, s.BatchSize);
        var job = new JobSpec
        {
            Model = JobSpecRules.ToWire(s.Model),
            Features = shape.Features,
            Classes = shape.Classes,
            Hidden = shape.Hidden,
            ParameterCount = shape.ParameterCount,
            Mode = s.Mode,
            Staleness = s.Staleness,
            Workers = s.Workers,
            Steps = steps,
            BatchSize = s.BatchSize,
            Seed = s.Seed,
            Dataset = s.Dataset,
            TestFraction = s.TestFraction,
            HeartbeatTimeoutMs = s.HeartbeatTimeoutMs,
            StepTimeoutMs = s.StepTimeoutMs,
            Code = s.Code,
            Stragglers = s.Stragglers,
            StragglerModel = s.StragglerModel,
        };
        StragglerInjector.Parse(s.StragglerModel, s.Workers, s.Seed);
        JobSpecRules.Validate(job);
        if (s.Servers <= 0) throw new ArgumentException($"servers must be at least 1 (got {s.Servers})");
        if (s.LearningRate <= 0 || !float.IsFinite(s.LearningRate)) throw new ArgumentException($"learning rate must be positive (got {s.LearningRate})");
        return (job, data);
    }

    public static OptimizerSettings Optimizer(TrainSettings s) => new(s.Optimizer, s.LearningRate, s.Momentum);

    /// <summary>The shard <paramref name="index"/> of <paramref name="count"/> for the job, initialised from the job's seed.</summary>
    public static ParameterShard CreateShard(JobSpec job, TrainSettings s, int index, int count, IComputeBackend backend, ILogger log)
    {
        var layout = ShardLayout.Compute(job.ParameterCount, count);
        if (index < 0 || index >= count) throw new ArgumentException($"shard index {index} is out of range 0..{count - 1}");
        var info = layout[index];
        var initial = ModelInitializer.Initialize(JobSpecRules.ToModelShape(job), job.Seed).AsSpan((int)info.Offset, (int)info.Length).ToArray();
        return new ParameterShard(new ShardOptions(job, info, Optimizer(s), initial), backend, log);
    }
}
