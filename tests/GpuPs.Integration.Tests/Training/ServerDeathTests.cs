using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// A server process that dies in a <c>--processes</c> run ends the run with an error that names it, its exit code and
/// its last error lines, not with the refused connection its death shows up as.
/// </summary>
public class ServerDeathTests
{
    /// <summary>Starts server 1 under <c>timeout -s KILL</c>: it is killed a few seconds into the run, as a crash would.</summary>
    private sealed class KilledServer(int index, int seconds) : IProcessPlacement
    {
        public IReadOnlyList<string> Launcher(ClusterRole role, int i) =>
            role == ClusterRole.Server && i == index ? ["timeout", "-s", "KILL", seconds.ToString()] : [];
    }

    [Fact]
    public async Task A_server_process_killed_mid_run_ends_the_run_with_an_error_naming_it_and_its_exit_code()
    {
        var settings = new TrainSettings
        {
            Dataset = "synthetic:rows=200,features=8,classes=2", Model = Kernels.ModelKind.Logistic, Workers = 2, Servers = 2,
            Mode = SyncMode.Bsp, Steps = 100_000, Seed = 5, Accelerator = AcceleratorChoice.Simd, Processes = true,
            StragglerModel = "none:unit=0.01",   // the run outlasts the server's death by far
        };
        var run = TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None, new KilledServer(1, 8));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromMinutes(3)));

        Assert.StartsWith("server 1 exited with code 137", error.Message);
        Assert.Contains("the run cannot go on without it", error.Message);
    }
}
