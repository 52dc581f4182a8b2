using System.Diagnostics;

namespace GpuPs.Worker.Stragglers;

/// <summary>
/// A cancellable wait that is never shorter than asked, down to microseconds. <see cref="Task.Delay(TimeSpan, CancellationToken)"/>
/// counts whole milliseconds, truncating: measured here (Linux, .NET 10), a 0.3 ms delay returned at once and a 1.5 ms
/// one up to 0.4 ms early. So the whole milliseconds are waited with <c>Task.Delay</c>, which frees the thread, and the
/// sub-millisecond rest against the <see cref="Stopwatch"/> deadline by spinning, yielding the core on every turn
/// (no <c>Thread.Sleep(1)</c>, which would overshoot by a millisecond). Timer wake-ups can be late (0.1–6 ms measured on
/// a loaded 2-core machine); the spin only covers what is left, so it never adds to that.
/// </summary>
public static class PreciseDelay
{
    /// <summary>Waits at least <paramref name="delay"/>; cancelled as soon as <paramref name="ct"/> is (the task is then
    /// cancelled, and already cancelled when <paramref name="ct"/> was). A <paramref name="time"/> other than the system
    /// clock (a test's manual clock) is simply waited on: only real timers truncate.</summary>
    public static Task WaitAsync(TimeSpan delay, CancellationToken ct, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        if (ct.IsCancellationRequested)
            return Task.FromCanceled(ct);
        if (delay == TimeSpan.Zero)
            return Task.CompletedTask;
        if (time is not null && time != TimeProvider.System)
            return Task.Delay(delay, time, ct);
        long deadline = Stopwatch.GetTimestamp() + (long)Math.Ceiling(delay.TotalSeconds * Stopwatch.Frequency);
        return WaitUntilAsync(deadline, TimeSpan.FromMilliseconds(Math.Floor(delay.TotalMilliseconds)), ct);
    }

    private static async Task WaitUntilAsync(long deadline, TimeSpan wholeMilliseconds, CancellationToken ct)
    {
        if (wholeMilliseconds > TimeSpan.Zero)
            await Task.Delay(wholeMilliseconds, ct).ConfigureAwait(false);
        var spin = new SpinWait();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            ct.ThrowIfCancellationRequested();
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
