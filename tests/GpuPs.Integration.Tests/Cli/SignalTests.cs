using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Worker.Transport;
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
        await using var server = ChildProcess.Start("server", ["server", "--urls", "http://127.0.0.1:0", .. Job], token, Log.Logger);
        await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), guard.Token);

        Signals.Send("TERM", server.ProcessId);

        Assert.Equal(0, await server.WaitForExitAsync(guard.Token));
    }

    [Fact]
    public async Task Sigterm_interrupts_a_training_worker_with_exit_code_130()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        await using var server = ChildProcess.Start("server", ["server", "--urls", "http://127.0.0.1:0", .. Job], token, Log.Logger);
        string address = await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), guard.Token);
        await using var worker = ChildProcess.Start("worker", ["worker", "--server", address, "--accelerator", "simd"], token, Log.Logger);
        await using (var observer = new GrpcShardClient(address, JobAuth.WithToken(token)))
            while ((await observer.StatusAsync(guard.Token)).Step < 3) await Task.Delay(20, guard.Token);

        Signals.Send("TERM", worker.ProcessId);

        Assert.Equal(130, await worker.WaitForExitAsync(guard.Token));
    }
}
