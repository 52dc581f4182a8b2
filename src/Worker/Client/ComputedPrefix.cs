namespace GpuPs.Worker.Client;

/// <summary>
/// How far a gradient being computed in key order is done (the wavefront, <see cref="StepComputation"/>): keys
/// [0, end) are final, end growing with each <see cref="Advance"/>. A push in pieces waits here for each piece's keys before it sends the piece, so no
/// piece leaves before its block is computed. One writer (the compute loop), any number of waiters; thread-safe.
/// </summary>
/// <remarks>
/// <code>
/// var computed = new ComputedPrefix();
/// var push = client.PushAsync(header, gradient, ct, computed: computed);   // pieces wait for their keys
/// foreach (var (start, length) in blocks) { Compute(start, length); computed.Advance(start + length); }
/// await push;
/// </code>
/// </remarks>
public sealed class ComputedPrefix
{
    private readonly Lock _gate = new();
    private readonly List<(long End, TaskCompletionSource Done)> _waiters = [];
    private long _end;   // keys [0, _end) are computed
    private Exception? _stopped;

    /// <summary>Marks keys [0, <paramref name="end"/>) computed and releases the pieces that waited for them; an end at or below the current one changes nothing.</summary>
    public void Advance(long end)
    {
        List<TaskCompletionSource> released = [];
        lock (_gate)
        {
            if (end <= _end) return;
            _end = end;
            _waiters.RemoveAll(w =>
            {
                if (w.End > end) return false;
                released.Add(w.Done);
                return true;
            });
        }
        foreach (var done in released) done.TrySetResult();
    }

    /// <summary>
    /// The compute stopped before the end (cancelled, failed): every piece waiting, and every later wait, fails with
    /// <paramref name="reason"/> (an <see cref="OperationCanceledException"/> for an abandoned step), so nothing more is sent.
    /// </summary>
    public void Stop(Exception reason)
    {
        List<TaskCompletionSource> failed;
        lock (_gate)
        {
            _stopped ??= reason;
            failed = [.. _waiters.Select(w => w.Done)];
            _waiters.Clear();
        }
        foreach (var done in failed) done.TrySetException(reason);
    }

    /// <summary>Completes once keys [0, <paramref name="end"/>) are computed; fails when the compute stopped first or <paramref name="ct"/> is cancelled.</summary>
    public Task WhenComputedAsync(long end, CancellationToken ct)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            if (end <= _end) return Task.CompletedTask;
            if (_stopped is not null) return Task.FromException(_stopped);
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((end, done));
        }
        return ct.CanBeCanceled ? done.Task.WaitAsync(ct) : done.Task;
    }
}
