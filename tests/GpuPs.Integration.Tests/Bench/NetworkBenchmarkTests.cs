using GpuPs.Cli.Bench.Network;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// The namespace benchmark's smoke run: real server and worker processes in their own namespaces behind a shaped bridge
/// train a small model round-robin; the step times, push latencies and link bytes come back, and the lab is gone after.
/// </summary>
[Collection(NetworkLabCollection.Name)]
public class NetworkBenchmarkTests
{
    [NetworkFact]
    public async Task A_small_round_robin_run_over_shaped_namespaces_reports_its_steps_and_link_bytes_and_leaves_nothing_behind()
    {
        var options = new NetworkBenchmarkOptions(Workers: 2, Features: 99, Classes: 10, Steps: 4, ServerMbit: 100);
        var scenario = new NetworkScenario("server-link", "round-robin", 1, 2, 100, null);

        var row = await NetworkBenchmark.RunScenarioAsync(scenario, options, Log.Logger, CancellationToken.None);

        Assert.Equal(4, row.Steps);
        Assert.True(row.StepMeanS > 0 && row.PushP99S >= row.PushP50S && row.PushP50S > 0, $"{row}");
        // Every step, each worker pushes its 1,000 floats to the server and pulls them back: at least 8 kB each way.
        Assert.True(row.BusiestLinkMBPerStep >= 2 * 1000 * 4 / 1e6, $"{row}");
        Assert.StartsWith("server0", row.BusiestLink);
        Assert.InRange(row.LinkUtilisation, 0, 1.05);
        string[] namespaces = Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns") : [];
        Assert.DoesNotContain(namespaces, n => Path.GetFileName(n).StartsWith($"gpups-{Environment.ProcessId}-", StringComparison.Ordinal));
        Assert.False(Directory.Exists($"/sys/class/net/gpbr{Environment.ProcessId}"), "the lab's bridge is still there");
    }
}
