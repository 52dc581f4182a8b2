namespace GpuPs.Cli.Cluster;

/// <summary>Where a training run reports progress (a progress bar, plain lines, or nothing).</summary>
public interface ITrainingProgress
{
    void Started(long totalSteps, string description);
    void Advanced(long step);
    void Evaluated(EpochRecord record);
}
