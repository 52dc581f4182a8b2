using GpuPs.Cli.Cluster;
using GpuPs.Core.Topology;
using Serilog;

namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// The hierarchical scenarios' node aggregators: a topology file (consecutive worker ids per node, each node's aggregator
/// on its own address, its framed TCP data plane) and one <c>gpups aggregator</c> process per node, in that node's
/// namespace, so its workers reach it without crossing the node's shaped uplink and only its combined pushes and single
/// pulls cross it.
/// </summary>
public static class NodeAggregators
{
    private const int Port = 6000;

    /// <summary>
    /// Writes the topology into <paramref name="folder"/>, starts the aggregators (added to <paramref name="children"/>)
    /// and returns the worker arguments that make workers use them.
    /// </summary>
    public static async Task<string[]> StartAsync(IReadOnlyList<LabHost> nodes, NetworkScenario scenario, string servers, string folder,
        List<ChildProcess> children, ILogger log, CancellationToken ct)
    {
        var even = ClusterTopology.Even(scenario.Workers, nodes.Count);
        var topology = new ClusterTopology(even.Nodes.Select((n, i) => n with
        {
            Label = nodes[i].Name,
            Aggregators = Enumerable.Range(0, scenario.Shards).Select(s => $"tcp://{nodes[i].Address}:{Port + s}").ToArray(),
        }).ToArray());
        string file = Path.Combine(folder, "topology.txt");
        await File.WriteAllTextAsync(file, TopologyFile.Format(topology), ct).ConfigureAwait(false);
        var started = new List<ChildProcess>();
        foreach (var node in nodes)
        {
            // A gather deadline far above a step: the benchmark measures the combined pushes, not partial ones.
            var aggregator = ChildProcess.Start($"{node.Name}-aggregator", ["aggregator", "--topology", file, "--node", node.Name, "--server", servers,
                "--insecure", "--gather-timeout-ms", "300000"], null, log, node.Launcher);
            children.Add(aggregator);
            started.Add(aggregator);
        }
        foreach (var aggregator in started) await aggregator.ReadListeningAddressAsync(TimeSpan.FromSeconds(120), ct).ConfigureAwait(false);
        return ["--topology", file, "--aggregator-timeout-ms", "300000"];
    }
}
