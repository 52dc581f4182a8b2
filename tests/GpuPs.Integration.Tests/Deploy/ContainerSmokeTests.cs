using System.Diagnostics;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// Runs <c>docker/smoke.sh</c>: the CPU image built with podman from a local Debian base, one server and two workers run
/// from it to the end of a job. It takes minutes (publish, image build, the base once), so it runs only when asked
/// (<c>GPUPS_SMOKE=1</c>) on a machine where podman can run it; everywhere else it is skipped with the reason.
/// </summary>
public class ContainerSmokeTests
{
    [SmokeFact]
    public async Task The_cpu_image_runs_a_server_and_two_workers_to_the_end_of_a_job()
    {
        var info = new ProcessStartInfo("bash", [Path.Combine(Repository.Root, "docker", "smoke.sh")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repository.Root,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        await process.WaitForExitAsync(timeout.Token);
        string output = await stdout + await stderr;

        Assert.True(process.ExitCode == 0, $"docker/smoke.sh exited {process.ExitCode}:\n{output}");
        Assert.Contains("smoke: server and both workers exited 0", output);
        Assert.Contains("smoke: PASS", output);
    }

    /// <summary>Skipped unless <c>GPUPS_SMOKE=1</c>, root and podman are there.</summary>
    private sealed class SmokeFactAttribute : FactAttribute
    {
        public SmokeFactAttribute()
        {
            if (Environment.GetEnvironmentVariable("GPUPS_SMOKE") != "1")
                Skip = "the container smoke test takes minutes; run it with GPUPS_SMOKE=1 (root, podman, runc; see docs/deployment.md)";
            else if (Environment.UserName != "root")
                Skip = "docker/smoke.sh needs root (rootful podman with host networking)";
            else if (!File.Exists("/usr/bin/podman"))
                Skip = "podman is not installed (apt-get install -y podman buildah runc debootstrap)";
        }
    }
}
