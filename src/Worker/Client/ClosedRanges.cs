namespace GpuPs.Worker.Client;

/// <summary>
/// The ranges of one shard that this worker's pull of the next step has received so far, in key order (a range's pull is
/// answered when the range has closed): what a push in lockstep (<see cref="ShardedClientOptions.RangesAhead"/>) waits
/// on before it sends a range that far ahead of the last closed one. A push waits only while a pull of the step after
/// its own is under way: with none, nothing would ever release it, so it goes at once. Thread-safe.
/// </summary>
internal sealed class ClosedRanges
{
    private readonly Lock _gate = new();
    private readonly List<(int Range, TaskCompletionSource Landed)> _waiters = [];
    private long _pullStep = -1;   // the step the pull under way is for; -1: none
    private int _landed;           // ranges [0, _landed) of that pull have come

    /// <summary>A pull of <paramref name="step"/>'s ranges starts: none has come yet.</summary>
    public void PullStarted(long step)
    {
        List<TaskCompletionSource> released;
        lock (_gate)
        {
            (_pullStep, _landed) = (step, 0);
            released = Release(all: true);   // waiters on an older pull go: their step is past
        }
        foreach (var w in released) w.TrySetResult();
    }

    /// <summary>Ranges [0, <paramref name="count"/>) of the pull under way have come.</summary>
    public void Landed(int count)
    {
        List<TaskCompletionSource> released;
        lock (_gate)
        {
            _landed = Math.Max(_landed, count);
            released = Release(all: false);
        }
        foreach (var w in released) w.TrySetResult();
    }

    /// <summary>The pull ended (all came, or it failed): every waiter goes.</summary>
    public void PullEnded()
    {
        List<TaskCompletionSource> released;
        lock (_gate)
        {
            _pullStep = -1;
            released = Release(all: true);
        }
        foreach (var w in released) w.TrySetResult();
    }

    /// <summary>
    /// Completes once range <paramref name="range"/> has come in the pull of step <paramref name="pushStep"/> + 1, at once
    /// when the range is negative or no pull of that step is under way.
    /// </summary>
    public Task WhenLandedAsync(long pushStep, int range, CancellationToken ct)
    {
        TaskCompletionSource landed;
        lock (_gate)
        {
            if (range < 0 || _pullStep != pushStep + 1 || range < _landed) return Task.CompletedTask;
            landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((range, landed));
        }
        return landed.Task.WaitAsync(ct);
    }

    /// <summary>Takes out the waiters whose range came (every waiter with <paramref name="all"/>). Caller holds the gate.</summary>
    private List<TaskCompletionSource> Release(bool all)
    {
        var released = _waiters.Where(w => all || w.Range < _landed).Select(w => w.Landed).ToList();
        _waiters.RemoveAll(w => all || w.Range < _landed);
        return released;
    }
}
