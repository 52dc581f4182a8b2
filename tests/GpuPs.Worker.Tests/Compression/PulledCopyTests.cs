using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Compression;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Tests.Compression;

/// <summary>
/// A worker's copy of a shard for compressed pulls (<see cref="PulledCopy"/>), fed by a channel that answers what the
/// test scripts: full pulls, deltas that follow the copy, deltas that do not, and a server without compressed pulls.
/// </summary>
public class PulledCopyTests
{
    /// <summary>Answers each pull with the next scripted values and result, and records the copy version each pull named.</summary>
    private sealed class ScriptedChannel : ITensorChannel
    {
        public readonly Queue<(float[] Values, PullResult Result)> Answers = new();
        public readonly List<long> VersionsNamed = [];

        public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
            throw new InvalidOperationException("a compressed pull names its copy's version");

        public Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
        {
            VersionsNamed.Add(viewVersion);
            var (values, result) = Answers.Dequeue();
            values.CopyTo(destination);
            return Task.FromResult(result);
        }

        public Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
            TensorEncoding encoding = TensorEncoding.Float32) => throw new NotSupportedException();
    }

    private static PullResult Result(long version, TensorEncoding encoding) => new(1, 0, 0, 4, false, version, encoding);

    private static async Task<float[]> PullAsync(PulledCopy copy, ScriptedChannel channel)
    {
        var destination = new float[4];
        await copy.PullAsync(channel, 0, 1, destination, CancellationToken.None, null);
        return destination;
    }

    [Fact]
    public async Task A_full_pull_becomes_the_copy_and_each_delta_that_follows_it_is_added_to_it()
    {
        var copy = new PulledCopy();
        var channel = new ScriptedChannel();
        channel.Answers.Enqueue(([1, 2, 3, 4], Result(1, TensorEncoding.Float32)));
        channel.Answers.Enqueue(([0, 0.5f, 0, -1], Result(2, TensorEncoding.Sparse)));
        channel.Answers.Enqueue(([0.25f, 0, 0, 0], Result(3, TensorEncoding.Sparse)));

        Assert.Equal(new[] { 1f, 2, 3, 4 }, await PullAsync(copy, channel));
        Assert.Equal(new[] { 1f, 2.5f, 3, 3 }, await PullAsync(copy, channel));
        Assert.Equal(new[] { 1.25f, 2.5f, 3, 3 }, await PullAsync(copy, channel));

        Assert.Equal([0L, 1, 2], channel.VersionsNamed);
        // 16 bytes in full, then two non-zeros and one non-zero of the sparse encoding.
        Assert.Equal(16 + 2 * SparseEntry + SparseEntry, copy.BytesPulled);
    }

    private static readonly int SparseEntry = TensorCodec.EncodedBytes(TensorEncoding.Sparse, [1f]);

    [Fact]
    public async Task The_seeded_start_is_the_first_copy_and_a_reset_forgets_it()
    {
        var copy = new PulledCopy();
        var channel = new ScriptedChannel();
        copy.Start([1, 1, 1, 1], version: 1);
        channel.Answers.Enqueue(([1, 0, 0, 0], Result(2, TensorEncoding.Sign)));
        Assert.Equal(new[] { 2f, 1, 1, 1 }, await PullAsync(copy, channel));

        copy.Reset();
        channel.Answers.Enqueue(([5, 5, 5, 5], Result(1, TensorEncoding.Float32)));
        Assert.Equal(new[] { 5f, 5, 5, 5 }, await PullAsync(copy, channel));
        Assert.Equal([1L, 0], channel.VersionsNamed);
    }

    [Fact]
    public async Task A_delta_that_does_not_follow_the_copy_is_refused_as_transient_and_the_next_pull_is_in_full()
    {
        var copy = new PulledCopy();
        var channel = new ScriptedChannel();
        copy.Start([1, 1, 1, 1], version: 3);
        channel.Answers.Enqueue(([1, 0, 0, 0], Result(5, TensorEncoding.Sparse)));   // a delta to version 4: one was lost

        var e = await Assert.ThrowsAsync<ShardException>(() => PullAsync(copy, channel));
        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.True(e.IsTransient);
        Assert.Contains("delta to copy version 4; this worker holds version 3", e.Message);

        channel.Answers.Enqueue(([7, 7, 7, 7], Result(6, TensorEncoding.Float32)));
        Assert.Equal(new[] { 7f, 7, 7, 7 }, await PullAsync(copy, channel));
        Assert.Equal([3L, 0], channel.VersionsNamed);

        // A delta with no copy at all is refused the same way.
        var empty = new PulledCopy();
        channel.Answers.Enqueue(([1, 0, 0, 0], Result(1, TensorEncoding.Sparse)));
        await Assert.ThrowsAsync<ShardException>(() => PullAsync(empty, channel));
        // So is one for a copy of another length.
        var other = new PulledCopy();
        other.Start([1, 1], version: 1);
        channel.Answers.Enqueue(([1, 0, 0, 0], Result(2, TensorEncoding.Sparse)));
        await Assert.ThrowsAsync<ShardException>(() => PullAsync(other, channel));
    }

    [Fact]
    public async Task A_server_without_compressed_pulls_answers_version_0_and_nothing_is_kept()
    {
        var copy = new PulledCopy();
        var channel = new ScriptedChannel();
        copy.Start([1, 1, 1, 1], version: 2);
        channel.Answers.Enqueue(([3, 3, 3, 3], Result(0, TensorEncoding.Float32)));
        channel.Answers.Enqueue(([4, 4, 4, 4], Result(0, TensorEncoding.Float32)));

        Assert.Equal(new[] { 3f, 3, 3, 3 }, await PullAsync(copy, channel));
        Assert.Equal(new[] { 4f, 4, 4, 4 }, await PullAsync(copy, channel));
        Assert.Equal([2L, 0], channel.VersionsNamed);
        Assert.Equal(32, copy.BytesPulled);
    }

    [Fact]
    public void A_pull_that_bypasses_the_copy_is_counted_at_its_encoded_size()
    {
        var copy = new PulledCopy();
        copy.CountInFull(Result(0, TensorEncoding.Float32), [1, 2, 3, 4]);
        copy.CountInFull(Result(0, TensorEncoding.BFloat16), [1, 2, 3, 4]);
        Assert.Equal(16 + 8, copy.BytesPulled);
    }
}
