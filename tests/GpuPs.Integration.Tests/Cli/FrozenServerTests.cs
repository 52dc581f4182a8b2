using System.Diagnostics;
using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// A frozen server (SIGSTOP: its sockets stay open, it answers nothing) on the real programs: the worker gives it up
/// within the job's heartbeat timeout (3 s here), names it and exits 1, instead of waiting for its calls' deadline
/// (10 min here: a worker that waited for it would trip the 2-minute guard). Not less than 3 s: a worker that gives the
/// server up before it is frozen, because a loaded machine left it unanswered that long (a CI run has seen 1.59 s), ends
/// the job before step 3 and the test waits out its guard.
/// </summary>
public class FrozenServerTests
{
    [Fact]
    public async Task A_worker_gives_up_a_frozen_server_and_exits_1_naming_it()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, address) = await ServerProcess.StartAsync(["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "1",
            "--steps", "1000000", "--batch-size", "8", "--heartbeat-timeout-ms", "3000"], token, guard.Token);
        await using var server = process;
        var info = ChildProcess.StartInfo(["worker", "--server", address, "--accelerator", "simd", "--call-timeout-ms", "600000"], token);
        info.Environment["NO_COLOR"] = "1";
        using var worker = Process.Start(info)!;
        var stderr = worker.StandardError.ReadToEndAsync(guard.Token);
        var stdout = worker.StandardOutput.ReadToEndAsync(guard.Token);
        try
        {
            await ServerProcess.WaitForStepAsync(address, token, 3, guard.Token);

            Signals.Send("STOP", server.ProcessId);
            await worker.WaitForExitAsync(guard.Token);

            string output = await stdout + await stderr;
            Assert.True(worker.ExitCode == 1, $"exit {worker.ExitCode}\n{output}");
            Assert.Contains(address, output);
            Assert.Contains("answered nothing", output);
        }
        finally
        {
            if (!worker.HasExited) worker.Kill(entireProcessTree: true);
            Signals.Send("CONT", server.ProcessId);
        }
    }
}
