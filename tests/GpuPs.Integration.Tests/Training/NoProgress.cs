using GpuPs.Cli.Cluster;

namespace GpuPs.Integration.Tests.Training;

public sealed class NoProgress : ITrainingProgress
{
    public void Started(long totalSteps, string description) { }
    public void Advanced(long step) { }
    public void Evaluated(EpochRecord record) { }
}
