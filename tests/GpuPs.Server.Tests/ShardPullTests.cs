using GpuPs.Core.Compression;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// The shard's side of a compressed pull (<see cref="ParameterShard.CopyForPull"/>): a worker's pull naming the version of
/// its copy gets the rounded delta to that copy, an observer's pull and a pull of an id that is no worker get the
/// parameters in full, and the start offered at registration is the hash of the values the worker derives itself.
/// </summary>
public class ShardPullTests
{
    private static float[] Ramp() => Enumerable.Range(1, Length).Select(i => (float)i).ToArray();

    [Fact]
    public void A_worker_s_pull_from_its_offered_start_is_the_top_k_delta_and_an_observer_s_pull_is_in_full()
    {
        using var shard = Create(CompressedPulls(1), initial: Filled(1f));
        long start = shard.Register(new RegisterRequest { RequestedWorkerId = 0 }).StartViewVersion;
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), Ramp()).ClosedStep);   // SGD, rate 1: p = 1 - (1..8)

        var delta = new float[Length];
        Assert.Equal(new PullResult(1, 0, 0, Length, false, start + 1, TensorEncoding.Sparse), shard.CopyForPull(0, start, delta));
        // p - start = -(1..8); top-k of half the values keeps the four largest in magnitude.
        Assert.Equal([0f, 0f, 0f, 0f, -5f, -6f, -7f, -8f], delta);

        var full = new float[Length];
        Assert.Equal(new PullResult(1, 0, 0, Length, false), shard.CopyForPull(ParameterShard.ObserverId, 0, full));
        Assert.Equal(Enumerable.Range(1, Length).Select(i => 1f - i), full);
        // An id past the last worker has no copy on the shard: the parameters in full as well.
        Assert.Equal(new PullResult(1, 0, 0, Length, false), shard.CopyForPull(1, start, new float[Length]));
    }

    [Fact]
    public void A_compressed_pull_into_a_buffer_of_another_length_is_refused()
    {
        using var shard = Create(CompressedPulls(1));
        long start = shard.Register(new RegisterRequest { RequestedWorkerId = 0 }).StartViewVersion;

        AssertError(ShardErrorKind.InvalidRequest, "pull destination has 7 floats, shard 0 has 8", () => shard.CopyForPull(0, start, new float[Length - 1]));
        // The refused pull left the worker's copy where it was: its next pull from the start is still a delta.
        Assert.Equal(TensorEncoding.Sparse, shard.CopyForPull(0, start, new float[Length]).Encoding);
    }

    [Fact]
    public void The_offered_start_carries_the_hash_of_the_initial_values()
    {
        var initial = Ramp();
        using var shard = Create(CompressedPulls(1), initial: initial);

        var reply = shard.Register(new RegisterRequest { RequestedWorkerId = 0 });

        Assert.Equal(1, reply.StartViewVersion);
        Assert.Equal(SharedStart.Hash(initial), reply.StartViewHash);
        Assert.NotEqual(SharedStart.Hash(new float[Length]), reply.StartViewHash);
    }

    [Fact]
    public async Task A_piece_wait_on_a_shard_that_closes_whole_steps_waits_for_the_step()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5));
        RegisterAll(shard, 2);
        var waiting = shard.WaitForPieceAsync(0, 1, new PieceRange(0, 4), CancellationToken.None);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        Assert.False(waiting.IsCompleted);

        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));   // a hang guard
    }

    [Fact]
    public async Task A_piece_wait_is_refused_for_a_piece_off_the_shard_or_a_worker_not_registered()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5) with { PieceFloats = 4 });
        shard.Register(new RegisterRequest { RequestedWorkerId = 0 });
        var piece = shard.ClosingRanges![0];

        var off = await Assert.ThrowsAsync<ShardException>(() => shard.WaitForPieceAsync(0, 0, new PieceRange(4, Length), CancellationToken.None));
        Assert.Equal(ShardErrorKind.InvalidRequest, off.Kind);
        var unknown = await Assert.ThrowsAsync<ShardException>(() => shard.WaitForPieceAsync(1, 0, piece, CancellationToken.None));
        Assert.Equal(ShardErrorKind.UnknownWorker, unknown.Kind);
        // An observer's piece wait is no worker's: step 0 is there, so it returns at once.
        Assert.True(shard.WaitForPieceAsync(ParameterShard.ObserverId, 0, piece, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Theory]
    [InlineData(PushSchedule.Simultaneous)]
    [InlineData(PushSchedule.RoundRobin)]
    public void A_pull_sent_by_an_id_that_is_no_worker_changes_nothing(PushSchedule schedule)
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5) with { Schedule = schedule });
        RegisterAll(shard, 2);

        // Neither call throws: without a round-robin coordinator there is no pull turn to end, and an observer's pull
        // or an id past the last worker holds none.
        shard.PullSent(ParameterShard.ObserverId);
        shard.PullSent(2);
    }

    [Fact]
    public async Task A_piece_wait_wakes_when_its_range_closes_while_the_step_still_waits()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5) with { PieceFloats = 4 });
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;
        var waiting = shard.WaitForPieceAsync(0, 1, ranges[0], CancellationToken.None);
        foreach (var range in ranges) Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0, Piece: range), new float[range.Length]).IsApplied);
        Assert.False(waiting.IsCompleted);

        // Worker 1's piece of range 0 closes that range, and only it: the last push of the test.
        Assert.False(shard.Push(new PushHeader(1, 0, 0, 1, 0, Piece: ranges[0]), new float[ranges[0].Length]).ClosedStep);
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));   // a hang guard
        Assert.Equal(0, shard.Status().Step);
    }
}
