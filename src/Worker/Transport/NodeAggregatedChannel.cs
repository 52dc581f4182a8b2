using GpuPs.Core.Shards;
using GpuPs.Core.Topology;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Worker.Transport;

/// <summary>
/// The data plane to one shard for a worker on a node with an aggregator (hierarchical aggregation): pushes go to the
/// node's aggregator for this shard, which answers with the shard's outcome; pulls go to the shard. When the aggregator
/// fails, freezes (no answer within <c>aggregatorTimeout</c>) or refuses the push, the push goes to the shard directly,
/// logged, and so do this worker's pushes for <c>retryAfter</c>; then the aggregator is tried again. A push the
/// aggregator forwarded before it failed is answered Duplicate by the shard, which the worker takes as done. Thread-safe.
/// </summary>
/// <remarks>
/// The worker's node is looked up by the id in each push's header, so the channel can be made before registration.
/// Owns the aggregator connections it makes, not <c>direct</c> (the shard connection's control plane owns that).
/// </remarks>
public sealed class NodeAggregatedChannel : ITensorChannel, IAsyncDisposable
{
    private readonly ITensorChannel _direct;
    private readonly ClusterTopology _topology;
    private readonly Func<string, ITensorChannel> _connect;
    private readonly TimeSpan _aggregatorTimeout, _retryAfter;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, ITensorChannel> _aggregators = [];
    private long _downUntil = long.MinValue, _fallbacks, _aggregated;

    /// <param name="direct">The shard's own data plane.</param>
    /// <param name="topology">Which node each worker is on and where its aggregators listen.</param>
    /// <param name="connect">Opens the data plane to an aggregator address (gRPC).</param>
    /// <param name="aggregatorTimeout">How long a push to the aggregator may take before the aggregator counts as frozen:
    /// above its gather deadline plus one upstream push.</param>
    /// <param name="retryAfter">How long the worker pushes directly after a failure before it tries the aggregator again.</param>
    /// <param name="log">Receives fallbacks, with worker, step and shard.</param>
    /// <param name="time">The clock of <paramref name="retryAfter"/>.</param>
    public NodeAggregatedChannel(ITensorChannel direct, ClusterTopology topology, Func<string, ITensorChannel> connect, TimeSpan aggregatorTimeout,
        TimeSpan retryAfter, ILogger log, TimeProvider? time = null)
    {
        (_direct, _topology, _connect, _aggregatorTimeout, _retryAfter, _log, _time) =
            (direct, topology, connect, aggregatorTimeout, retryAfter, log, time ?? TimeProvider.System);
    }

    /// <summary>Pushes that went to the shard directly because the aggregator failed.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>Pushes the aggregator answered.</summary>
    public long Aggregated => Interlocked.Read(ref _aggregated);

    /// <inheritdoc />
    public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        _direct.PullAsync(workerId, minStep, destination, cancellationToken, timeout);

    /// <inheritdoc />
    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        if (Aggregator(header) is { } aggregator)
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
                Interlocked.Exchange(ref _downUntil, _time.GetTimestamp() + (long)(_retryAfter.TotalSeconds * _time.TimestampFrequency));
                Interlocked.Increment(ref _fallbacks);
                _log.Warning("Worker {WorkerId} step {Step} shard {Shard}: aggregator {Aggregator} of node {Node} failed ({Kind}: {Reason}); pushing to the shard directly, and for the next {RetryS} s",
                    header.WorkerId, header.Step, header.Shard, aggregator.Address, aggregator.Node, e.Kind, e.Message, _retryAfter.TotalSeconds);
            }
        }
        return await _direct.PushAsync(header, gradient, cancellationToken, timeout, encoding).ConfigureAwait(false);
    }

    /// <summary>Closes the aggregator connections (not the direct plane).</summary>
    public async ValueTask DisposeAsync()
    {
        ITensorChannel[] channels;
        lock (_aggregators) channels = [.. _aggregators.Values];
        foreach (var channel in channels)
            if (channel is IAsyncDisposable d) await d.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The aggregator this push goes to; null when the worker is on no node with one, or it failed recently.</summary>
    private (ITensorChannel Channel, string Address, string Node)? Aggregator(in PushHeader header)
    {
        if (_topology.NodeOf(header.WorkerId) is not { Aggregators.Count: > 0 } node || header.Shard >= node.Aggregators.Count) return null;
        if (_time.GetTimestamp() < Interlocked.Read(ref _downUntil)) return null;
        var address = node.Aggregators[header.Shard];
        lock (_aggregators)
        {
            if (!_aggregators.TryGetValue(address, out var channel)) _aggregators[address] = channel = _connect(address);
            return (channel, address, node.Label);
        }
    }
}
