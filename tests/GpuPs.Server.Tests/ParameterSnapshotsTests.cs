using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Observers;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// <see cref="ParameterSnapshots"/> on a real shard: a copy of the parameters at exactly every <c>every</c>-th step,
/// whatever the shard does after it, and at most the byte bound of copies waiting, the oldest dropped first.
/// </summary>
public class ParameterSnapshotsTests
{
    [Fact]
    public void Every_second_step_is_copied_as_the_shard_had_it_then()
    {
        var snapshots = new ParameterSnapshots(every: 2);
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 5), Filled(0f), observers: [snapshots]);
        RegisterAll(shard, 1);
        var after = new List<float[]>();
        for (int step = 0; step < 5; step++)
        {
            shard.Push(new PushHeader(0, step, 0, 1, 0), Filled(step + 1f));
            after.Add(Parameters(shard));
        }

        var copies = Drain(snapshots);
        Assert.Equal([2L, 4L], copies.Select(c => c.Step));
        Assert.Equal(after[1], copies[0].Parameters);   // the shard's step 2 is the state after the push of step 1
        Assert.Equal(after[3], copies[1].Parameters);
        Assert.NotEqual(after[4], copies[1].Parameters);
        Assert.Equal(0, snapshots.Dropped);
    }

    [Fact]
    public void A_reader_that_falls_behind_loses_the_oldest_copies_and_never_more_than_the_bound_waits()
    {
        var snapshots = new ParameterSnapshots(every: 1, maxBytes: 2 * 4 * sizeof(float));
        for (long step = 1; step <= 5; step++) snapshots.OnParameters(step, [step, step, step, step]);

        var copies = Drain(snapshots);
        Assert.Equal([4L, 5L], copies.Select(c => c.Step));
        Assert.Equal([5f, 5f, 5f, 5f], copies[1].Parameters);
        Assert.Equal(3, snapshots.Dropped);

        // A copy larger than the bound on its own is still kept: the newest always is.
        snapshots.OnParameters(6, new float[16]);
        Assert.True(snapshots.TryPeekStep(out long kept));
        Assert.Equal(6, kept);
    }

    [Fact]
    public void Copies_taken_free_their_bytes_so_a_reader_one_copy_behind_loses_none()
    {
        var snapshots = new ParameterSnapshots(every: 1, maxBytes: 2 * 4 * sizeof(float));
        snapshots.OnParameters(1, [1f, 1f, 1f, 1f]);
        var taken = new List<long>();
        for (long step = 2; step <= 10; step++)
        {
            snapshots.OnParameters(step, [step, step, step, step]);   // two copies wait: the bound, exactly
            Assert.True(snapshots.TryTake(out var copy));
            taken.Add(copy.Step);
        }

        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), taken);
        Assert.Equal(0, snapshots.Dropped);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterSnapshots(every: 1, maxBytes: -1));
    }

    [Fact]
    public void Step_zero_and_steps_between_are_not_copied_and_every_must_be_positive()
    {
        var snapshots = new ParameterSnapshots(every: 3);
        snapshots.OnParameters(0, [1f]);
        snapshots.OnParameters(2, [1f]);
        Assert.False(snapshots.TryPeekStep(out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterSnapshots(every: 0));
    }

    private static List<ParameterSnapshot> Drain(ParameterSnapshots snapshots)
    {
        var copies = new List<ParameterSnapshot>();
        while (snapshots.TryTake(out var copy)) copies.Add(copy);
        return copies;
    }
}
