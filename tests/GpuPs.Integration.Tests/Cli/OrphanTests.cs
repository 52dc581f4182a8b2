using System.Diagnostics;
using GpuPs.Cli.Cluster;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// <c>gpups train --processes</c> killed with SIGKILL cannot stop its server and worker processes itself: they notice
/// their parent is gone and stop on their own instead of running forever.
/// </summary>
public class OrphanTests
{
    [Fact]
    public async Task Children_of_a_killed_train_driver_stop_on_their_own()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var info = ChildProcess.StartInfo(["train", "--processes", "--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "2",
            "--steps", "1000000", "--batch-size", "8", "--accelerator", "simd", "--output", Path.Combine(Path.GetTempPath(), $"gpups-orphan-{Guid.NewGuid():N}.json")]);
        using var driver = Process.Start(info)!;
        _ = driver.StandardOutput.ReadToEndAsync(guard.Token);
        _ = driver.StandardError.ReadToEndAsync(guard.Token);
        int[] children;
        do
        {
            await Task.Delay(100, guard.Token);
            children = ChildrenOf(driver.Id);
        }
        while (children.Length < 3);   // one server and two workers

        driver.Kill();   // SIGKILL: no chance to stop its children
        await driver.WaitForExitAsync(guard.Token);

        while (children.Any(IsAlive)) await Task.Delay(100, guard.Token);
        Assert.False(guard.IsCancellationRequested);
    }

    private static int[] ChildrenOf(int pid) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out int p) ? p : -1)
            .Where(p => p > 0 && ParentOf(p) == pid)
            .ToArray();

    private static int ParentOf(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException) { return -1; }
    }

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");
}
