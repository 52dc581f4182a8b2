using GpuPs.Benchmarks.Wire;

namespace GpuPs.Integration.Tests.Wire;

public class WireBenchmarkTests
{
    [Fact]
    public async Task A_short_run_measures_every_path()
    {
        var options = new WireBenchmarkOptions
        {
            TensorFloats = 1 << 14,
            Warmup = TimeSpan.FromMilliseconds(50),
            Duration = TimeSpan.FromMilliseconds(200),
        };
        var lines = new List<string>();

        var results = await WireBenchmark.RunAsync(options, lines.Add, CancellationToken.None);

        Assert.Equal(["memcpy", "raw TCP", "gRPC push", "gRPC pull", "aggregation"], results.Select(r => r.Name));
        Assert.All(results, r => Assert.True(r.MegabytesPerSecond > 0, r.Name));
        Assert.Equal(1, results[0].RatioToMemcpy, 9);
        Assert.Equal(1, results[1].RatioToRawTcp, 9);
        Assert.Equal(10, lines.Count);
    }
}
