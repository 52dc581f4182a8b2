using System.Diagnostics;
using System.Globalization;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// Makes a child process end with the process that started it: <c>gpups train --processes</c> (or a test) passes its
/// id in <see cref="Variable"/>, and the child stops — as on SIGTERM, cleanly — once that process is gone, even if it was
/// killed with SIGKILL and could not stop its children itself.
/// </summary>
public static class ParentWatch
{
    /// <summary>The environment variable that holds the parent's process id.</summary>
    public const string Variable = "GPUPS_PARENT_PID";

    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    /// <summary>Sets <see cref="Variable"/> in a child's start info to this process.</summary>
    public static void Pass(ProcessStartInfo child) => child.Environment[Variable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// When this process was started with <see cref="Variable"/>, cancels <paramref name="stop"/> once that process is gone
    /// (checked every 0.5 s); otherwise does nothing. Runs until <paramref name="stop"/> is cancelled.
    /// </summary>
    public static Task WatchAsync(CancellationTokenSource stop)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), NumberStyles.None, CultureInfo.InvariantCulture, out int parent))
            return Task.CompletedTask;
        return Task.Run(async () =>
        {
            try
            {
                while (IsAlive(parent)) await Task.Delay(Period, stop.Token).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"gpups: the process that started this one ({parent}) is gone; stopping").ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) { }
        });
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }   // no such process
    }
}
