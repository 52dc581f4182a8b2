using GpuPs.Core.Security;
using GpuPs.Core.Topology;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// How a worker process or task connects to its shards: the negotiated client (control over gRPC, tensors over the data
/// plane the server offers), and, with a topology, pushes through the node's aggregator
/// (<see cref="NodeAggregatedChannel"/>, over gRPC: only it carries a node's combined push) with fallback to the shard.
/// </summary>
public static class WorkerConnections
{
    /// <summary>After an aggregator failed, its workers push directly this long before they try it again.</summary>
    public static readonly TimeSpan AggregatorRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>The connection factory a <see cref="GpuPs.Worker.TrainingWorker"/> takes.</summary>
    /// <param name="servers">The shards' addresses in shard order: an address's place is its shard's index.</param>
    public static Func<string, ShardConnection> Create(IReadOnlyList<string> servers, JobAuth auth, TransportChoice transport, ClusterTopology? topology,
        TimeSpan aggregatorTimeout, ILogger log) =>
        address =>
        {
            var shard = NegotiatedShardClient.Connect(address, auth, transport);
            if (topology is null) return shard;
            var tensors = new NodeAggregatedChannel(shard.Tensors, servers.ToList().IndexOf(address), topology, a => new GrpcShardClient(a, auth), aggregatorTimeout, AggregatorRetryAfter, log);
            return new ShardConnection(address, shard.Control, tensors);
        };
}
