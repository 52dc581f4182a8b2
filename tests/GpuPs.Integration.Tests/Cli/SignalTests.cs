using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// README's SIGTERM row on the real programs: <c>docker stop</c> or Kubernetes sends SIGTERM; a server then stops cleanly
/// with exit code 0, and a worker interrupted mid-job exits 130.
/// </summary>
public class SignalTests
{
    private static readonly string[] Job =
        ["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "1", "--steps", "1000000", "--batch-size", "8"];

    [Fact]
    public async Task Sigterm_stops_a_server_cleanly_with_exit_code_0()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, _) = await ServerProcess.StartAsync(Job, token, guard.Token);
        await using var server = process;

        Signals.Send("TERM", server.ProcessId);

        Assert.Equal(0, await server.WaitForExitAsync(guard.Token));
    }

    [Fact]
    public async Task Sigterm_interrupts_a_training_worker_with_exit_code_130()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, address) = await ServerProcess.StartAsync(Job, token, guard.Token);
        await using var server = process;
        await using var worker = ChildProcess.Start("worker", ["worker", "--server", address, "--accelerator", "simd"], token, Log.Logger);
        await ServerProcess.WaitForStepAsync(address, token, 3, guard.Token);

        Signals.Send("TERM", worker.ProcessId);

        Assert.Equal(130, await worker.WaitForExitAsync(guard.Token));
    }
}
