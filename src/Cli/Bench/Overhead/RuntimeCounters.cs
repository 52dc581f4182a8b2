using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GpuPs.Cli.Bench.Overhead;

/// <summary>
/// What this process spent, read at one moment: CPU time, context switches (voluntary: a thread blocked and was woken;
/// involuntary: preempted), thread-pool work items run (each one an async continuation or queued callback, i.e. a hop
/// onto a pool thread), bytes allocated and contended lock entries. The difference of two readings divided by the steps
/// between them is where an embedded cluster's step goes when the gradient work is small: on 2 cores with 8 workers and
/// a shard in one process, mostly scheduling.
/// </summary>
/// <remarks>Context switches come from <c>getrusage(RUSAGE_SELF)</c> (every thread of the process, Linux and macOS);
/// elsewhere they read NaN.</remarks>
public readonly record struct RuntimeCounters(double CpuMs, double VoluntarySwitches, double InvoluntarySwitches, double ThreadPoolItems,
    double AllocatedBytes, double LockContentions)
{
    /// <summary>The process's counters now.</summary>
    public static RuntimeCounters Read()
    {
        var (voluntary, involuntary) = ContextSwitches();
        return new RuntimeCounters(Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds, voluntary, involuntary,
            ThreadPool.CompletedWorkItemCount, GC.GetTotalAllocatedBytes(precise: false), Monitor.LockContentionCount);
    }

    /// <summary>The counts from <paramref name="from"/> to <paramref name="to"/>, per one of <paramref name="steps"/>.</summary>
    public static RuntimeCounters PerStep(RuntimeCounters from, RuntimeCounters to, int steps) => new(
        (to.CpuMs - from.CpuMs) / steps, (to.VoluntarySwitches - from.VoluntarySwitches) / steps,
        (to.InvoluntarySwitches - from.InvoluntarySwitches) / steps, (to.ThreadPoolItems - from.ThreadPoolItems) / steps,
        (to.AllocatedBytes - from.AllocatedBytes) / steps, (to.LockContentions - from.LockContentions) / steps);

    /// <summary>No reading (a run whose roles are other processes).</summary>
    public static RuntimeCounters None => new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

    private static (double Voluntary, double Involuntary) ContextSwitches()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
            return (double.NaN, double.NaN);
        return getrusage(0, out var usage) == 0 ? (usage.VoluntarySwitches, usage.InvoluntarySwitches) : (double.NaN, double.NaN);
    }

    /// <summary><c>struct rusage</c> on 64-bit Linux and macOS: two timevals, then 14 longs, the last two the context switches.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults, Swaps, BlockIn, BlockOut, MessagesSent, MessagesReceived, Signals;
        public long VoluntarySwitches, InvoluntarySwitches;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out RUsage usage);
}
