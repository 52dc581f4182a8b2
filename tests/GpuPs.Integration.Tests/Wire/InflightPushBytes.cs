using System.Diagnostics;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>Waits for a server's in-flight push bytes (its status) to reach a value, under a hang guard.</summary>
public static class InflightPushBytes
{
    /// <summary>How long the budget may take to reach the value before the test fails: only a broken budget takes it.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    /// <summary>Polls <paramref name="status"/> until the push budget holds exactly <paramref name="bytes"/>; fails the test past <see cref="HangGuard"/>.</summary>
    public static async Task ReachAsync(GrpcShardClient status, long bytes)
    {
        var watch = Stopwatch.StartNew();
        long held;
        while ((held = (await status.StatusAsync(CancellationToken.None)).InflightPushBytes) != bytes)
        {
            Assert.True(watch.Elapsed < HangGuard, $"the push budget holds {held} bytes, never {bytes}, after {HangGuard.TotalSeconds} s");
            await Task.Delay(10);
        }
    }
}
