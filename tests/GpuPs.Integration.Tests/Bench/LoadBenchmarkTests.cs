using GpuPs.Cli.Bench;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

public class LoadBenchmarkTests
{
    [Fact]
    public async Task A_short_load_run_against_a_server_process_applies_every_push_exactly_once()
    {
        var lines = new List<string>();

        var results = (await LoadBenchmark.RunAsync(workers: 8, steps: 5, parameters: 64, Log.Logger, lines.Add, CancellationToken.None))
            .ToDictionary(r => r.Measure, r => r.Value);

        Assert.Equal(40, results["pushes applied"]);
        Assert.Equal(0, results["pushes refused"]);
        Assert.Equal(0, results["worst parameter off the exact sum"]);
        Assert.True(results["push latency p50"] <= results["push latency p99"] && results["push latency p99"] <= results["push latency max"]);
        Assert.Equal(2, lines.Count);
    }
}
