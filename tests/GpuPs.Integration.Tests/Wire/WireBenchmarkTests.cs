using GpuPs.Benchmarks.Wire;
using GpuPs.Core.Security;

namespace GpuPs.Integration.Tests.Wire;

public class WireBenchmarkTests
{
    /// <summary>A short run against a sink server (here in process; `gpups bench wire` starts it as a process) measures every path and operation.</summary>
    [Fact]
    public async Task A_short_run_measures_every_path_and_operation_with_percentiles()
    {
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var server = await WireSinkServer.StartAsync(4096, auth, Serilog.Core.Logger.None, CancellationToken.None);
        var options = new WireBenchmarkOptions { Warmup = TimeSpan.FromMilliseconds(50), Duration = TimeSpan.FromMilliseconds(150), Rounds = 3 };
        var lines = new List<string>();

        var results = await WireBenchmark.RunAsync(server.Url, 4096, auth, options, lines.Add, CancellationToken.None);

        Assert.Equal(["push", "pull"], results.Select(r => r.Operation).Distinct());
        Assert.Equal(WireBenchmark.Paths.Concat(WireBenchmark.Paths), results.Select(r => r.Path));
        Assert.Equal(["raw", "grpc", "tcp", "tcp-nocheck", "shm", "raw-tls", "grpc-tls", "tls"], WireBenchmark.Paths);
        Assert.All(results, r =>
        {
            Assert.Equal(4096 * sizeof(float), r.Bytes);
            Assert.True(r.Operations > 0 && r.MeanMBps > 0, r.Label);
            Assert.True(r.P50Microseconds <= r.P99Microseconds, r.Label);
            Assert.True(r.ClientCpuMicroseconds > 0, r.Label);
            Assert.True(double.IsNaN(r.ServerCpuMicroseconds), r.Label);   // no server process to measure
        });
        Assert.All(results.Where(r => r.Path == "raw"), r => Assert.Equal(1, r.RatioToRaw, 9));
        Assert.Equal(2 + results.Count, lines.Count);   // one "measuring" line per operation, one per row
    }

    /// <summary>A subset of paths is measured alone, in the order asked; the ratio is to the raw socket wherever it comes.</summary>
    [Fact]
    public async Task Only_the_paths_asked_for_are_measured_in_their_order()
    {
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var server = await WireSinkServer.StartAsync(64, auth, Serilog.Core.Logger.None, CancellationToken.None);
        var options = new WireBenchmarkOptions { Warmup = TimeSpan.FromMilliseconds(20), Duration = TimeSpan.FromMilliseconds(60), Rounds = 2, Paths = ["tcp", "raw"] };

        var results = await WireBenchmark.RunAsync(server.Url, 64, auth, options, null, CancellationToken.None, () => TimeSpan.FromSeconds(1));

        Assert.Equal(["tcp push", "raw push", "tcp pull", "raw pull"], results.Select(r => $"{r.Path} {r.Operation}"));
        Assert.All(results.Where(r => r.Path == "raw"), r => Assert.Equal(1, r.RatioToRaw, 9));
        Assert.All(results, r => Assert.Equal(0, r.ServerCpuMicroseconds));   // the server clock given did not move
        await Assert.ThrowsAsync<ArgumentException>(() => WireBenchmark.RunAsync(server.Url, 64, auth, options with { Paths = ["ipoac"] }, null, CancellationToken.None));
    }

    /// <summary>The payload's steps are each timed, least no more than median.</summary>
    [Fact]
    public void The_payload_steps_are_timed_alone()
    {
        var costs = WireCosts.Measure(1 << 16, repetitions: 20);

        Assert.Equal(3, costs.Count);
        Assert.All(costs, c =>
        {
            Assert.Equal(1 << 16, c.Bytes);
            Assert.True(c.MinMicroseconds >= 0 && c.MinMicroseconds <= c.MedianMicroseconds, c.Step);
        });
    }
}
