using GpuPs.Core.Security;
using GpuPs.Core.Topology;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// How a worker process or task connects to its shards: the negotiated client (control over gRPC, tensors over the data
/// plane the server offers), and, with a topology, pushes and pulls through the node's aggregator
/// (<see cref="NodeAggregatedChannel"/>) with fallback to the shard: over its framed TCP data plane for a <c>tcp://</c>
/// aggregator address, else over gRPC.
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
            int index = servers.ToList().IndexOf(address);
            var tensors = new NodeAggregatedChannel(shard.Tensors, index, topology, a => Aggregator(a, index, auth, aggregatorTimeout), aggregatorTimeout, AggregatorRetryAfter, log);
            return new ShardConnection(address, shard.Control, tensors);
        };

    /// <summary>The data plane to a node aggregator's endpoint for shard <paramref name="shard"/>: framed TCP for <c>tcp://</c>, else gRPC.</summary>
    private static ITensorChannel Aggregator(string address, int shard, JobAuth auth, TimeSpan timeout) =>
        new Uri(address) is { Scheme: "tcp" } tcp ? new Worker.Transport.Tcp.TcpTensorChannel(tcp.Host, tcp.Port, shard, auth, timeout) : new GrpcShardClient(address, auth);
}
