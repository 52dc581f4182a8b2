namespace GpuPs.Worker.Tests.Fakes;

/// <summary>A step hook that changes nothing: every kernel runs once, no delay, no injected straggling.</summary>
internal sealed class OneRunHook : IWorkerStepHook
{
    public int ComputeRuns => 1;
    public void BeginStep(long step, int load) { }
    public Task AfterPartitionAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public void EndStep(TimeSpan compute) { }
}
