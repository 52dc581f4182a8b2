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
        var options = new WireBenchmarkOptions { Warmup = TimeSpan.FromMilliseconds(50), Duration = TimeSpan.FromMilliseconds(150) };
        var lines = new List<string>();

        var results = await WireBenchmark.RunAsync(server.Url, 4096, auth, options, lines.Add, CancellationToken.None);

        Assert.Equal(["raw push", "raw pull", "grpc push", "grpc pull", "tcp push", "tcp pull"], results.Select(r => $"{r.Path} {r.Operation}"));
        Assert.All(results, r =>
        {
            Assert.Equal(4096 * sizeof(float), r.Bytes);
            Assert.True(r.Operations > 0 && r.MeanMBps > 0, r.Label);
            Assert.True(r.P50Microseconds <= r.P99Microseconds, r.Label);
        });
        Assert.All(results.Take(2), r => Assert.Equal(1, r.RatioToRaw, 9));
        Assert.Equal(12, lines.Count);
    }
}
