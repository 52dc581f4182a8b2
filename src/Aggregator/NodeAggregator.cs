using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Core.Topology;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Aggregator;

/// <summary>
/// The node aggregator role (<c>gpups aggregator</c>, or a task of the embedded cluster): for one node of the topology it
/// serves one endpoint per shard, each a <see cref="ShardAggregator"/> that the node's workers push to and pull from as
/// if it were that shard — gRPC for an <c>http://</c> listen URL, the framed TCP data plane for a <c>tcp://</c> one (its
/// gRPC endpoint then takes a free port on the same host, for status) — and sends the combined pushes to the shards over
/// gRPC with the job's token (only gRPC carries a push's contributors).
/// </summary>
/// <remarks>
/// Usage: <c>await using var node = await NodeAggregator.StartAsync(topology.Node("node-a"), shardUrls, ["http://0.0.0.0:6000"], auth, gather, log, ct);</c>
/// then start the node's workers with the topology (their aggregator addresses are <see cref="Addresses"/>). It learns the
/// job and the shards' key ranges from the shards' status, asking until they answer (60 s at most).
/// </remarks>
public sealed class NodeAggregator : IAsyncDisposable
{
    private static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(60);
    private readonly List<GrpcShardClient> _upstream = [];
    private readonly List<ShardAggregator> _shards = [];
    private readonly List<GpuPsServerHost> _hosts = [];
    private readonly List<string> _addresses = [];

    private NodeAggregator(TopologyNode node) => Node = node;

    /// <summary>The node this aggregator serves.</summary>
    public TopologyNode Node { get; }

    /// <summary>
    /// Where the node's workers push, one address per shard in shard order (real ports when port 0 was asked for):
    /// <c>tcp://HOST:PORT</c> for a data-plane endpoint, else its gRPC address.
    /// </summary>
    public IReadOnlyList<string> Addresses => _addresses;

    /// <summary>The per-shard aggregators, in shard order, for their counters.</summary>
    public IReadOnlyList<ShardAggregator> Shards => _shards;

    /// <summary>
    /// Connects to the shards at <paramref name="servers"/> (in shard order), learns the job, and starts one endpoint per
    /// shard: <paramref name="urls"/> holds one URL per shard, or one URL with port 0 for all (each gets a free port);
    /// <c>http://</c> serves gRPC, <c>tcp://</c> the framed TCP data plane.
    /// </summary>
    /// <exception cref="ArgumentException">A URL count that does not match the shards, a job whose mode combines nothing,
    /// a topology node naming workers the job does not have.</exception>
    /// <exception cref="ShardException">A shard did not answer within 60 s.</exception>
    public static async Task<NodeAggregator> StartAsync(TopologyNode node, IReadOnlyList<string> servers, IReadOnlyList<string> urls, JobAuth auth,
        TimeSpan gatherTimeout, ILogger log, CancellationToken ct)
    {
        bool anyPort = urls.Count == 1 && new Uri(urls[0]).Port == 0;
        if (!anyPort && urls.Count != servers.Count)
            throw new ArgumentException($"the aggregator needs one listen URL per shard ({servers.Count}), or one URL with port 0; got {urls.Count}");
        var aggregator = new NodeAggregator(node);
        try
        {
            for (int i = 0; i < servers.Count; i++)
            {
                var client = new GrpcShardClient(servers[i], auth);
                aggregator._upstream.Add(client);
                var status = await StatusAsync(client, ct).ConfigureAwait(false);
                var job = JobSpecWire.FromWire(status.Job);
                if (status.Shard.Index != i || status.Shard.Count != servers.Count)
                    throw new ArgumentException($"{servers[i]} is shard {status.Shard.Index} of {status.Shard.Count}, expected shard {i} of {servers.Count} (give the servers in shard order)");
                new ClusterTopology([node]).Validate(job.Workers, servers.Count);
                var shard = new ShardAggregator(job, status.Shard, node, client, gatherTimeout, log);
                aggregator._shards.Add(shard);
                var listen = new Uri(anyPort ? urls[0] : urls[i]);
                var host = listen.Scheme == "tcp"
                    ? await GpuPsServerHost.StartAsync(shard, $"http://{listen.Host}:0", listen.OriginalString, auth, ServerLimits.Default, log, ct).ConfigureAwait(false)
                    : await GpuPsServerHost.StartAsync(shard, listen.OriginalString, auth, log, ct).ConfigureAwait(false);
                aggregator._hosts.Add(host);
                aggregator._addresses.Add(listen.Scheme == "tcp" ? $"tcp://{listen.Host}:{host.DataPort}" : host.Address.ToString().TrimEnd('/'));
            }
            log.Information("Node {Node} aggregator for workers {Workers} listening on {Addresses}, forwarding to {Servers}",
                node.Label, node.Workers, aggregator.Addresses, servers);
            return aggregator;
        }
        catch
        {
            await aggregator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Completes when shard 0 reports the job finished (asked every <paramref name="poll"/>), or throws when cancelled.</summary>
    public async Task WaitForJobEndAsync(TimeSpan poll, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                if ((await _upstream[0].StatusAsync(ct).ConfigureAwait(false)).Finished) return;
            }
            catch (ShardException) { }   // a restarting shard: ask again
            await Task.Delay(poll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the endpoints (waiting pushes fail, so their workers push directly) and closes the upstream connections.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var shard in _shards) shard.Dispose();
        foreach (var host in _hosts) await host.DisposeAsync().ConfigureAwait(false);
        foreach (var client in _upstream) await client.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task<StatusReply> StatusAsync(GrpcShardClient client, CancellationToken ct)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await client.StatusAsync(ct, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (ShardException e) when (e.Kind is ShardErrorKind.Unavailable or ShardErrorKind.Timeout && waited.Elapsed < StartupWait)
            {
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        }
    }
}
