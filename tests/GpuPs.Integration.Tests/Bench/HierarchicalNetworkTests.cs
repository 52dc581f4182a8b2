using GpuPs.Cli.Bench.Network;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// The two-nodes scenario's smoke run: 2 node namespaces of 2 workers behind shaped uplinks, flat and then with a
/// <c>gpups aggregator</c> process in each node; the server's link takes about half the bytes per step (one push and one
/// pull per node instead of per worker, with the control traffic on top), and the model is the flat run's.
/// </summary>
[Collection(NetworkLabCollection.Name)]
public class HierarchicalNetworkTests
{
    [NetworkFact]
    public async Task Node_aggregators_halve_the_server_links_bytes_for_two_workers_a_node_and_train_the_flat_model()
    {
        // 10,010 parameters: 40 kB a push, well above the calls' headers and the heartbeats.
        var options = new NetworkBenchmarkOptions(Workers: 4, Features: 1000, Classes: 10, Steps: 4, ServerMbit: 100, Scenarios: ["two-nodes"]);

        var rows = await NetworkBenchmark.RunAsync(options, Log.Logger, _ => { }, CancellationToken.None);

        var (flat, hierarchical) = (rows.Single(r => r.Scenario == "two-nodes-flat"), rows.Single(r => r.Scenario == "two-nodes-hierarchical"));
        // Flat: 4 pushes of 40 kB a step reach the server; hierarchical: 2.
        Assert.True(flat.ServerInMBPerStep >= 4 * 40_040 / 1e6, $"{flat}");
        Assert.InRange(hierarchical.ServerInMBPerStep / flat.ServerInMBPerStep, 0.3, 0.65);
        Assert.InRange(hierarchical.MaxAbsDiffVsFlat, 0, 1e-5);
        Assert.Equal(4, hierarchical.Steps);
    }
}
