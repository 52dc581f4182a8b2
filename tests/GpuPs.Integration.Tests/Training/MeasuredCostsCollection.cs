namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Tests whose subject is a rule over measured step costs run alone, after the parallel tests: the zero-share rule
/// compares a worker's measured step with the others' measured pushes and pulls, and one CI run of the whole suite saw
/// the other tests' load in those pushes keep a worker 1,000× slower than the rest at a (tiny) proportional share.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredCostsCollection
{
    public const string Name = "measured costs";
}
