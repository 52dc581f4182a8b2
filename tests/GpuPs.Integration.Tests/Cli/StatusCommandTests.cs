using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary><c>gpups status</c> on the real programs: a running shard's job, step and workers, as a person reads them.</summary>
public class StatusCommandTests
{
    [Fact]
    public async Task Before_its_first_step_a_shard_shows_no_loss_rather_than_NaN()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, address) = await ServerProcess.StartAsync(["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "2"], token, guard.Token);
        await using var server = process;

        var run = await Gpups.RunAsync(new Dictionary<string, string> { ["GPUPS_TOKEN"] = token.Value }, ["status", "--server", address]);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("0, no loss yet (no step closed)", run.Stdout);
        Assert.DoesNotContain("NaN", run.Stdout);
    }

    [Fact]
    public async Task Status_shows_the_job_the_step_and_each_worker_with_its_device()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, address) = await ServerProcess.StartAsync(["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "2",
            "--steps", "1000000", "--batch-size", "8"], token, guard.Token);
        await using var server = process;
        await using var worker = ChildProcess.Start("worker", ["worker", "--server", address, "--accelerator", "simd"], token, Log.Logger);
        await using (var observer = new GrpcShardClient(address, JobAuth.WithToken(token)))
            while ((await observer.StatusAsync(guard.Token)).RegisteredWorkers < 1) await Task.Delay(20, guard.Token);

        var run = await Gpups.RunAsync(new Dictionary<string, string> { ["GPUPS_TOKEN"] = token.Value }, ["status", "--server", address]);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("bsp, 2 workers, 1000000 steps", run.Stdout);
        Assert.Contains("live", run.Stdout);
        Assert.Contains("not joined", run.Stdout);   // the job's second worker never came
        Assert.Contains("CPU SIMD", run.Stdout);
        Assert.DoesNotContain("NaN", run.Stdout);
        var refused = await Gpups.RunAsync(new Dictionary<string, string> { ["GPUPS_TOKEN"] = JobToken.Generate().Value }, ["status", "--server", address]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Unauthenticated", refused.Stderr);
    }
}
