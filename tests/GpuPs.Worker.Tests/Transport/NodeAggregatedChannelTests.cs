using GpuPs.Core.Shards;
using GpuPs.Core.Topology;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker.Tests.Transport;

/// <summary>
/// The worker's side of hierarchical aggregation: calls go to the node's aggregator for this shard; a worker on no node
/// goes to the shard; an aggregator that fails or freezes is bypassed (the call goes to the shard) for the retry period,
/// then tried again; a call the caller cancelled is not retried anywhere.
/// </summary>
public class NodeAggregatedChannelTests
{
    private static readonly ClusterTopology Topology = TopologyFile.Parse(["node-a workers=0,1 aggregator=http://a:6000,http://a:6001"], "test");
    private static readonly TimeSpan AggregatorTimeout = TimeSpan.FromSeconds(5), RetryAfter = TimeSpan.FromSeconds(30);
    private readonly ManualTimeProvider _clock = new();
    private readonly ScriptedChannel _shard = new(), _aggregator = new();
    private readonly List<string> _connected = [];

    private NodeAggregatedChannel Channel(int shard = 1) =>
        new(_shard, shard, Topology, address => { _connected.Add(address); return _aggregator; }, AggregatorTimeout, RetryAfter, Log.Logger, _clock);

    private static PushHeader Push(int worker) => new(worker, 3, 1, 10, 0);

    [Fact]
    public async Task A_nodes_worker_pushes_and_pulls_through_its_aggregator_for_this_shard_and_others_go_to_the_shard()
    {
        var channel = Channel();
        await channel.PushAsync(Push(1), new float[4], CancellationToken.None);
        await channel.PullAsync(1, 3, new float[4], CancellationToken.None);
        await channel.PushAsync(Push(7), new float[4], CancellationToken.None);

        Assert.Equal(["http://a:6001"], _connected);
        Assert.Equal(2, _aggregator.Calls);
        Assert.Equal(1, _shard.Calls);
        Assert.Equal(2, channel.Aggregated);
        Assert.Equal(0, channel.Fallbacks);
    }

    [Fact]
    public async Task A_failing_aggregator_is_bypassed_for_the_retry_period_then_tried_again()
    {
        var channel = Channel();
        _aggregator.Fail = new ShardException(ShardErrorKind.Unavailable, "connection refused");

        Assert.True((await channel.PushAsync(Push(0), new float[4], CancellationToken.None)).IsApplied);
        Assert.Equal((1, 1, 1L), (_aggregator.Calls, _shard.Calls, channel.Fallbacks));
        await channel.PullAsync(0, 4, new float[4], CancellationToken.None);
        _clock.Advance(RetryAfter - TimeSpan.FromSeconds(1));
        await channel.PushAsync(Push(0), new float[4], CancellationToken.None);
        Assert.Equal((1, 3), (_aggregator.Calls, _shard.Calls));   // not asked again within the period

        _aggregator.Fail = null;
        _clock.Advance(TimeSpan.FromSeconds(2));
        await channel.PushAsync(Push(0), new float[4], CancellationToken.None);
        Assert.Equal((2, 3), (_aggregator.Calls, _shard.Calls));
    }

    [Fact]
    public async Task A_frozen_aggregator_is_given_the_aggregator_timeout_for_a_push_and_the_push_goes_to_the_shard()
    {
        var channel = Channel();
        _aggregator.Fail = new ShardException(ShardErrorKind.Timeout, "deadline exceeded");

        await channel.PushAsync(Push(0), new float[4], CancellationToken.None, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(AggregatorTimeout, _aggregator.LastTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), _shard.LastTimeout);
        Assert.Equal(1, channel.Fallbacks);
        // A shorter call deadline is kept.
        _clock.Advance(RetryAfter);
        await channel.PushAsync(Push(0), new float[4], CancellationToken.None, timeout: TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), _aggregator.LastTimeout);
    }

    [Fact]
    public async Task A_call_the_caller_cancelled_is_not_sent_to_the_shard()
    {
        var channel = Channel();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        _aggregator.Fail = new ShardException(ShardErrorKind.Unavailable, "cancelled mid-call");

        await Assert.ThrowsAsync<ShardException>(() => channel.PushAsync(Push(0), new float[4], cancelled.Token));
        await Assert.ThrowsAsync<ShardException>(() => channel.PullAsync(0, 3, new float[4], cancelled.Token));
        Assert.Equal(2, _aggregator.Calls);
        Assert.Equal(0, _shard.Calls);
        Assert.Equal(0, channel.Fallbacks);
    }

    [Fact]
    public async Task A_failing_aggregator_s_pull_goes_to_the_shard_and_so_do_the_next_calls_until_the_retry_period_ends()
    {
        var channel = Channel();
        _aggregator.Fail = new ShardException(ShardErrorKind.Unavailable, "aggregator down");

        var pulled = await channel.PullAsync(1, 3, new float[4], CancellationToken.None, TimeSpan.FromSeconds(2));

        Assert.Equal(3, pulled.Step);
        Assert.Equal((1, 1, 1L, 0L), (_aggregator.Calls, _shard.Calls, channel.Fallbacks, channel.Aggregated));
        Assert.Equal(TimeSpan.FromSeconds(2), _shard.LastTimeout);
        _aggregator.Fail = null;
        _clock.Advance(RetryAfter - TimeSpan.FromMilliseconds(1));
        await channel.PullAsync(1, 4, new float[4], CancellationToken.None);
        Assert.Equal((1, 2), (_aggregator.Calls, _shard.Calls));
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await channel.PullAsync(1, 4, new float[4], CancellationToken.None);
        Assert.Equal((2, 2, 1L), (_aggregator.Calls, _shard.Calls, channel.Aggregated));
    }

    [Fact]
    public async Task A_shard_beyond_the_node_s_aggregators_is_reached_directly_and_disposal_closes_only_aggregators()
    {
        var beyond = Channel(shard: 2);
        await beyond.PushAsync(Push(0), new float[4], CancellationToken.None);
        Assert.Equal((0, 1), (_aggregator.Calls, _shard.Calls));
        Assert.Empty(_connected);

        var first = Channel(shard: 0);
        await first.PushAsync(Push(0), new float[4], CancellationToken.None);
        await first.PushAsync(Push(1), new float[4], CancellationToken.None);
        Assert.Equal(["http://a:6000"], _connected);   // one connection per aggregator address
        await first.DisposeAsync();
        Assert.Equal((1, 0), (_aggregator.Disposed, _shard.Disposed));
    }

    /// <summary>Answers every call (Applied, step 3) or throws <see cref="Fail"/>; counts calls and keeps the last deadline.</summary>
    private sealed class ScriptedChannel : ITensorChannel, IAsyncDisposable
    {
        public int Disposed { get; private set; }
        public ValueTask DisposeAsync()
        {
            Disposed++;
            return ValueTask.CompletedTask;
        }

        public ShardException? Fail { get; set; }
        public int Calls { get; private set; }
        public TimeSpan? LastTimeout { get; private set; }

        public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
            Answer(timeout, new PullResult(minStep, 1, 0, destination.Length, false));

        public Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
            TensorEncoding encoding = TensorEncoding.Float32) => Answer(timeout, PushOutcome.Applied(header.Step, false, false));

        private Task<T> Answer<T>(TimeSpan? timeout, T result)
        {
            Calls++;
            LastTimeout = timeout;
            return Fail is { } e ? Task.FromException<T>(e) : Task.FromResult(result);
        }
    }
}
