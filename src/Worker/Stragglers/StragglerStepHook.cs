namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The <see cref="IWorkerStepHook"/> that injects a job's straggler model into one worker: per step it draws the
/// worker's delay from the <see cref="StragglerInjector"/>, spreads it (plus the simulated compute unit) over the
/// partitions, repeats the kernel of a throttled worker, and keeps the worker's typical compute
/// (<see cref="ComputeReference"/>) that a relative persistent model scales.
/// </summary>
public sealed class StragglerStepHook(StragglerInjector injector, int workerId, TimeProvider? time = null) : IWorkerStepHook
{
    private readonly ComputeReference _typical = new();
    private long _step;
    private int _load = 1;
    private TimeSpan _delay;

    /// <summary>The job's straggler model that this hook draws the worker's delays and repeats from.</summary>
    public StragglerInjector Injector { get; } = injector;

    /// <inheritdoc />
    public int ComputeRuns => Injector.ComputeRepeatsAt(workerId, _step);

    /// <inheritdoc />
    public void BeginStep(long step, int load)
    {
        (_step, _load) = (step, load);
        _delay = Injector.StepDelay(workerId, step, load, _typical.PerPartition);
    }

    /// <inheritdoc />
    public Task AfterPartitionAsync(CancellationToken cancellationToken) =>
        Injector.AfterPartitionAsync(workerId, _step, _load, _delay, cancellationToken, time);

    /// <inheritdoc />
    public void EndStep(TimeSpan compute) => _typical.Record(compute, _load);
}
