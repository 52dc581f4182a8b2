namespace GpuPs.Integration.Tests.Cli;

/// <summary>README's "dead or unreachable server" row, on the real program: retries with doubling backoff, then exit 1.</summary>
public class DeadServerTests
{
    [Fact]
    public async Task A_worker_retries_a_dead_server_with_doubling_backoff_then_exits_1_naming_it()
    {
        // A port that was just free: nothing listens on it, so every call is refused (Unavailable).
        int port = Ports.Free();
        string address = $"http://127.0.0.1:{port}";

        var run = await Gpups.RunAsync("worker", "--server", address, "--max-retries", "4", "--accelerator", "simd", "--insecure");

        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        string output = run.Stdout + run.Stderr;
        Assert.Contains(address, output);
        Assert.Contains("failed 4 times", output);
        // The backoff the worker logged before each retry: 100 ms, doubling.
        Assert.Contains("retry 1/3 in 100 ms", output);
        Assert.Contains("retry 2/3 in 200 ms", output);
        Assert.Contains("retry 3/3 in 400 ms", output);
    }
}
