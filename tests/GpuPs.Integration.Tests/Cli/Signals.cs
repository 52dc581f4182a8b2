using System.Diagnostics;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>Sends POSIX signals to the processes a test started, as <c>kill</c>, Docker or Kubernetes would.</summary>
public static class Signals
{
    /// <summary>Sends <paramref name="signal"/> (TERM, STOP, CONT, …) to process <paramref name="pid"/> and waits for <c>kill</c>.</summary>
    public static void Send(string signal, int pid)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}")!;
        kill.WaitForExit();
    }
}
