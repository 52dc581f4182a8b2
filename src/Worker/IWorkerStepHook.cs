namespace GpuPs.Worker;

/// <summary>
/// Shapes a worker's step from outside the loop, without editing it: the straggler injection of benchmarks and tests
/// (<see cref="Stragglers.StragglerStepHook"/>) is one. Called by one worker's loop, in order: <see cref="BeginStep"/>,
/// then per partition its compute and <see cref="AfterPartitionAsync"/>, then <see cref="EndStep"/> when every partition
/// was computed (not for a step abandoned midway).
/// </summary>
public interface IWorkerStepHook
{
    /// <summary>Times each partition's gradient kernel runs (a throttled worker repeats it; only the last result counts).</summary>
    int ComputeRuns { get; }

    /// <summary>Step <paramref name="step"/> starts, over <paramref name="load"/> partitions.</summary>
    void BeginStep(long step, int load);

    /// <summary>After each partition's compute; may wait (a simulated slow worker), and stops at once when cancelled.</summary>
    Task AfterPartitionAsync(CancellationToken cancellationToken);

    /// <summary>Every partition of the step was computed, in <paramref name="compute"/> of real kernel time.</summary>
    void EndStep(TimeSpan compute);
}
