using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// A hand-made deployment as the README describes it — a <c>gpups server</c> and two <c>gpups worker</c> processes — ends
/// on its own: the workers exit 0 when the job finishes, and the server writes its parameters and exits 0 after its
/// linger, so a script or a Kubernetes Job completes without killing anything.
/// </summary>
public class DeploymentRunTests
{
    [Fact]
    public async Task Server_and_workers_of_a_finished_job_all_exit_0_and_the_server_writes_its_model()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        string output = Path.Combine(Path.GetTempPath(), $"gpups-shard-{Guid.NewGuid():N}.json");
        try
        {
            var (process, address) = await ServerProcess.StartAsync(["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "2",
                "--steps", "20", "--linger-ms", "500", "--output", output], token, guard.Token);
            await using var server = process;
            await using var first = ChildProcess.Start("worker 0", ["worker", "--server", address, "--accelerator", "simd"], token, Log.Logger);
            await using var second = ChildProcess.Start("worker 1", ["worker", "--server", address, "--accelerator", "simd"], token, Log.Logger);

            Assert.Equal(0, await first.WaitForExitAsync(guard.Token));
            Assert.Equal(0, await second.WaitForExitAsync(guard.Token));
            Assert.Equal(0, await server.WaitForExitAsync(guard.Token));
            Assert.Contains("\"step\": 20", await File.ReadAllTextAsync(output, guard.Token));
        }
        finally { File.Delete(output); }
    }
}
