using System.CommandLine;
using GpuPs.Aggregator;
using GpuPs.Cli.Settings;
using GpuPs.Core.Topology;
using Serilog.Events;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups aggregator</c>: the node aggregator of one node of a topology file. Its workers push to it as if it were the
/// shards; it sends one combined push per step per shard upstream (docs/architecture.md). It exits 0 when the job has
/// finished, and stops on SIGTERM or Ctrl+C; its workers then push to the shards directly.
/// </summary>
public static class AggregatorCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var servers = sources.Option("server", "http://127.0.0.1:5000", "shard server address(es), comma-separated in shard order");
        var node = sources.Option("node", "", "the node of the topology file this aggregator serves (its label)");
        var urls = sources.Option("urls", "",
            "where to listen, one URL per shard in shard order (comma-separated), or one URL with port 0 for free ports; default: the node's aggregator addresses' ports on 0.0.0.0");
        var topology = new TopologyOptions(sources);
        var auth = new AuthOptions(sources);
        var command = new Command("aggregator", "Run a node aggregator: sum (or, coded, deduplicate) the node's pushes and send one message per step per shard upstream.");
        foreach (var o in new Option[] { servers, node, urls, topology.File, topology.GatherTimeoutMs }) command.Options.Add(o);
        auth.AddTo(command);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "aggregator", LogEventLevel.Information);
            if (parse.GetValue(topology.File) is not { Length: > 0 } file) throw new SettingsException("--topology FILE is required: it says which workers are on the node");
            if (parse.GetValue(node) is not { Length: > 0 } label) throw new SettingsException("--node LABEL is required: which node of the topology this aggregator serves");
            if (parse.GetValue(topology.GatherTimeoutMs) <= 0) throw new SettingsException("--gather-timeout-ms must be positive");
            var me = TopologyFile.Load(file).Node(label);
            var upstream = AddressList.Parse(parse.GetValue(servers)!, "--server");
            var listen = parse.GetValue(urls) is { Length: > 0 } given
                ? AddressList.Parse(given, "--urls")
                : me.Aggregators.Count > 0
                    ? me.Aggregators.Select(a => $"{new Uri(a).Scheme}://0.0.0.0:{new Uri(a).Port}").ToArray()   // tcp://: a data-plane endpoint
                    : throw new SettingsException($"node '{label}' has no aggregator addresses in {file}; give --urls");
            var jobAuth = auth.Resolve(parse, "aggregator");
            await using var aggregator = await NodeAggregator.StartAsync(me, upstream, listen, jobAuth, TimeSpan.FromMilliseconds(parse.GetValue(topology.GatherTimeoutMs)), log, ct);
            foreach (var address in aggregator.Addresses) Console.WriteLine($"listening on {address}");
            await aggregator.WaitForJobEndAsync(TimeSpan.FromSeconds(1), ct);
            log.Information("Node {Node} aggregator: the job finished; {Messages} pushes forwarded for {Received} received",
                label, aggregator.Shards.Sum(s => s.MessagesForwarded), aggregator.Shards.Sum(s => s.PushesReceived));
            return 0;
        }));
        return command;
    }
}
