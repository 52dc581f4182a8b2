namespace GpuPs.Cli.Cluster;

/// <summary>Progress that goes nowhere: benchmarks and tests that only want the result.</summary>
public sealed class NullTrainingProgress : ITrainingProgress
{
    public static readonly NullTrainingProgress Instance = new();

    public void Started(long totalSteps, string description) { }
    public void Advanced(long step) { }
    public void Evaluated(EpochRecord record) { }
}
