using GpuPs.Core.Shards;
using GpuPs.Core.Topology;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Worker.Transport;

/// <summary>
/// The data plane to one shard for a worker on a node with an aggregator (hierarchical aggregation): pushes go to the
/// node's aggregator for this shard, which answers with the shard's outcome, and pulls come from it (one upstream pull
/// per step for the node). When the aggregator fails, freezes (no answer to a push within <c>aggregatorTimeout</c>, to a
/// pull within the caller's deadline) or refuses, the call goes to the shard directly, logged, and so do this worker's
/// calls for <c>retryAfter</c>; then the aggregator is tried again. A push the
/// aggregator forwarded before it failed is answered Duplicate by the shard, which the worker takes as done. Thread-safe.
/// </summary>
/// <remarks>
/// The worker's node is looked up by the worker id of each call, so the channel can be made before registration.
/// Owns the aggregator connections it makes, not <c>direct</c> (the shard connection's control plane owns that).
/// </remarks>
public sealed class NodeAggregatedChannel : ITensorChannel, IAsyncDisposable
{
    private readonly ITensorChannel _direct;
    private readonly int _shard;
    private readonly ClusterTopology _topology;
    private readonly Func<string, ITensorChannel> _connect;
    private readonly TimeSpan _aggregatorTimeout, _retryAfter;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, ITensorChannel> _aggregators = [];
    private long _downUntil = long.MinValue, _fallbacks, _aggregated;

    /// <param name="direct">The shard's own data plane.</param>
    /// <param name="shard">The shard's index: which of the node's aggregator addresses is this shard's.</param>
    /// <param name="topology">Which node each worker is on and where its aggregators listen.</param>
    /// <param name="connect">Opens the data plane to an aggregator address (gRPC).</param>
    /// <param name="aggregatorTimeout">How long a push to the aggregator may take before the aggregator counts as frozen:
    /// above its gather deadline plus one upstream push.</param>
    /// <param name="retryAfter">How long the worker pushes directly after a failure before it tries the aggregator again.</param>
    /// <param name="log">Receives fallbacks, with worker, step and shard.</param>
    /// <param name="time">The clock of <paramref name="retryAfter"/>.</param>
    public NodeAggregatedChannel(ITensorChannel direct, int shard, ClusterTopology topology, Func<string, ITensorChannel> connect, TimeSpan aggregatorTimeout,
        TimeSpan retryAfter, ILogger log, TimeProvider? time = null)
    {
        (_direct, _shard, _topology, _connect, _aggregatorTimeout, _retryAfter, _log, _time) =
            (direct, shard, topology, connect, aggregatorTimeout, retryAfter, log, time ?? TimeProvider.System);
    }

    /// <summary>Calls that went to the shard directly because the aggregator failed.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>Pulls and pushes the aggregator answered.</summary>
    public long Aggregated => Interlocked.Read(ref _aggregated);

    /// <summary>
    /// Pulls through the node's aggregator (one upstream pull per step for the node), within the caller's deadline; on
    /// its failure or timeout, from the shard directly, as pushes do.
    /// </summary>
    public async Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        if (Aggregator(workerId) is { } aggregator)
        {
            try
            {
                var result = await aggregator.Channel.PullAsync(workerId, minStep, destination, cancellationToken, timeout).ConfigureAwait(false);
                Interlocked.Increment(ref _aggregated);
                return result;
            }
            catch (ShardException e) when (!cancellationToken.IsCancellationRequested)
            {
                FellBack(aggregator, e, workerId, minStep, "pulling");
            }
        }
        return await _direct.PullAsync(workerId, minStep, destination, cancellationToken, timeout).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        if (Aggregator(header.WorkerId) is { } aggregator)
        {
            var limit = timeout is { } t && t < _aggregatorTimeout ? t : _aggregatorTimeout;
            try
            {
                var outcome = await aggregator.Channel.PushAsync(header, gradient, cancellationToken, limit, encoding).ConfigureAwait(false);
                Interlocked.Increment(ref _aggregated);
                return outcome;
            }
            catch (ShardException e) when (!cancellationToken.IsCancellationRequested)
            {
                FellBack(aggregator, e, header.WorkerId, header.Step, "pushing");
            }
        }
        return await _direct.PushAsync(header, gradient, cancellationToken, timeout, encoding).ConfigureAwait(false);
    }

    private void FellBack((ITensorChannel Channel, string Address, string Node) aggregator, ShardException e, int workerId, long step, string what)
    {
        Interlocked.Exchange(ref _downUntil, _time.GetTimestamp() + (long)(_retryAfter.TotalSeconds * _time.TimestampFrequency));
        Interlocked.Increment(ref _fallbacks);
        _log.Warning("Worker {WorkerId} step {Step} shard {Shard}: aggregator {Aggregator} of node {Node} failed ({Kind}: {Reason}); {What} to the shard directly, and for the next {RetryS} s",
            workerId, step, _shard, aggregator.Address, aggregator.Node, e.Kind, e.Message, what, _retryAfter.TotalSeconds);
    }

    /// <summary>Closes the aggregator connections (not the direct plane).</summary>
    public async ValueTask DisposeAsync()
    {
        ITensorChannel[] channels;
        lock (_aggregators) channels = [.. _aggregators.Values];
        foreach (var channel in channels)
            if (channel is IAsyncDisposable d) await d.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The aggregator this worker's calls go to; null when it is on no node with one, or it failed recently.</summary>
    private (ITensorChannel Channel, string Address, string Node)? Aggregator(int workerId)
    {
        if (_topology.NodeOf(workerId) is not { Aggregators.Count: > 0 } node || _shard >= node.Aggregators.Count) return null;
        if (_time.GetTimestamp() < Interlocked.Read(ref _downUntil)) return null;
        var address = node.Aggregators[_shard];
        lock (_aggregators)
        {
            if (!_aggregators.TryGetValue(address, out var channel)) _aggregators[address] = channel = _connect(address);
            return (channel, address, node.Label);
        }
    }
}
