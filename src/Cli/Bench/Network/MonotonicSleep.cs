using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// Blocks the calling thread until a <see cref="Stopwatch"/> timestamp, sleeping in the kernel (Linux
/// <c>clock_nanosleep</c> on an absolute CLOCK_MONOTONIC deadline, so an interrupted sleep resumes without drifting):
/// sub-millisecond waits without spinning a core. For dedicated threads only: it blocks.
/// </summary>
public static partial class MonotonicSleep
{
    private const int ClockMonotonic = 1, TimerAbsolute = 1, Interrupted = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>Returns at or after <paramref name="timestamp"/> (at once when it has passed).</summary>
    public static void Until(long timestamp)
    {
        long left = timestamp - Stopwatch.GetTimestamp();
        if (left <= 0) return;
        long nanoseconds = (long)(left * (1e9 / Stopwatch.Frequency));
        if (clock_gettime(ClockMonotonic, out var now) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_MONOTONIC) failed");
        long total = now.Nanoseconds + nanoseconds;
        var deadline = new TimeSpec { Seconds = now.Seconds + total / 1_000_000_000, Nanoseconds = total % 1_000_000_000 };
        while (clock_nanosleep(ClockMonotonic, TimerAbsolute, in deadline, IntPtr.Zero) == Interrupted) { }
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_gettime(int clock, out TimeSpec time);

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_nanosleep(int clock, int flags, in TimeSpec request, IntPtr remain);
}
