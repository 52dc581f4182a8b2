namespace GpuPs.Server;

/// <summary>Wakes every waiter when the shard's state changes. <see cref="Pulse"/> and <see cref="Next"/> are called under the shard's lock.</summary>
public sealed class StepSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A task that completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => _next.Task;

    /// <summary>Completes the current <see cref="Next"/> and starts a new one.</summary>
    public void Pulse()
    {
        var current = _next;
        _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        current.TrySetResult();
    }
}
