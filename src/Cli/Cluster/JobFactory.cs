using GpuPs.Cli.Settings;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// The CLI's part of job assembly: <see cref="TrainSettings"/> to the library's <see cref="JobBuilder"/>, plus the checks
/// of settings the job itself does not carry (servers, optimizer) and of the straggler model, so that a typo fails before
/// any process starts.
/// </summary>
public static class JobFactory
{
    /// <exception cref="ArgumentException">An impossible setting, in one readable line.</exception>
    public static TrainingJob CreateJob(TrainSettings s)
    {
        var job = JobBuilder.Build(s.ToDefinition());
        StragglerInjector.Parse(s.StragglerModel, s.Workers, s.Seed);
        s.Accelerator.Validate(s.Workers);
        if (s.Servers <= 0) throw new ArgumentException($"servers must be at least 1 (got {s.Servers})");
        if (s.LearningRate <= 0 || !float.IsFinite(s.LearningRate)) throw new ArgumentException($"learning rate must be positive (got {s.LearningRate})");
        return job;
    }

    public static OptimizerSettings Optimizer(TrainSettings s) => new(s.Optimizer, s.LearningRate, s.Momentum);
}
