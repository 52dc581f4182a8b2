using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Tests.Transport;

/// <summary>
/// What a data plane gets from <see cref="ITensorChannel"/>'s default members (no piece pulls, no fusing, no compressed
/// pulls) and how a <see cref="ShardConnection"/> disposes its planes.
/// </summary>
public class ChannelDefaultsTests
{
    /// <summary>A shard of 6 values 10..15 at offset 100, step 3; pushes answered Applied and counted.</summary>
    private sealed class PlainChannel : ITensorChannel, IShardControl, IAsyncDisposable
    {
        public int Pulls, Pushes, Disposed;
        public TimeSpan? LastTimeout;

        public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
        {
            Pulls++;
            LastTimeout = timeout;
            for (int k = 0; k < destination.Length; k++) destination.Span[k] = 10 + k;
            return Task.FromResult(new PullResult(3, 1, 100, destination.Length, false));
        }

        public Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
            TensorEncoding encoding = TensorEncoding.Float32)
        {
            Pushes++;
            return Task.FromResult(PushOutcome.Applied(header.Step + 1, closedStep: true, jobFinished: false));
        }

        public Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) => throw new NotSupportedException();
        public Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) => throw new NotSupportedException();
        public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => throw new NotSupportedException();

        public ValueTask DisposeAsync()
        {
            Disposed++;
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_piece_pull_without_piece_support_pulls_the_shard_and_copies_the_piece()
    {
        ITensorChannel channel = new PlainChannel();
        var piece = new float[3];

        var result = await channel.PullPieceAsync(0, 2, new PieceRange(2, 3), piece, shardLength: 6, CancellationToken.None, TimeSpan.FromSeconds(4));

        Assert.Equal([12f, 13, 14], piece);
        Assert.Equal(new PullResult(3, 1, 102, 3, false), result);
        Assert.Equal(TimeSpan.FromSeconds(4), ((PlainChannel)channel).LastTimeout);
    }

    [Fact]
    public async Task A_compressed_pull_without_support_is_a_full_pull_and_a_push_pull_without_fusing_only_pushes()
    {
        var plain = new PlainChannel();
        ITensorChannel channel = plain;
        var values = new float[6];

        var full = await channel.PullAsync(0, 2, viewVersion: 7, values, CancellationToken.None);
        Assert.Equal((0L, TensorEncoding.Float32), (full.ViewVersion, full.Encoding));
        Assert.Equal(10f, values[0]);

        Assert.False(channel.FusesPushPull);
        long before = System.Diagnostics.Stopwatch.GetTimestamp();
        var fused = await channel.PushPullAsync(new PushHeader(0, 4, 1, 1, 0), new float[6], 5, new float[6], CancellationToken.None);
        Assert.Null(fused.Pull);
        Assert.True(fused.Push is { IsApplied: true, Step: 5 });
        Assert.True(fused.PushAnsweredAt >= before);
        Assert.Equal((1, 1), (plain.Pulls, plain.Pushes));
    }

    [Fact]
    public async Task A_connection_disposes_each_distinct_plane_once()
    {
        var both = new PlainChannel();
        await new ShardConnection("a", both, both).DisposeAsync();
        Assert.Equal(1, both.Disposed);

        var control = new PlainChannel();
        var tensors = new PlainChannel();
        var connection = new ShardConnection("b", control, tensors);
        Assert.Equal(("b", (IShardControl)control, (ITensorChannel)tensors), (connection.Address, connection.Control, connection.Tensors));
        await connection.DisposeAsync();
        Assert.Equal((1, 1), (control.Disposed, tensors.Disposed));
    }
}
