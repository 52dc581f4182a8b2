using GpuPs.Core.Modes;
using GpuPs.Kernels;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// A shard resumed from <see cref="ParameterShard.Checkpoint"/> goes on exactly as the shard it was taken from: same
/// parameters, optimizer state (Adam's moments and step count), step and worker clocks.
/// </summary>
public class ShardCheckpointTests
{
    private static readonly OptimizerSettings Adam = new(OptimizerKind.Adam, LearningRate: 0.1f);

    private static float[] Gradient(long step, int worker) =>
        Enumerable.Range(0, Length).Select(i => MathF.Sin(step * 7 + worker * 3 + i)).ToArray();

    private static void Step(ParameterShard shard, long step)
    {
        for (int w = 0; w < 2; w++) shard.Push(new PushHeader(w, step, 0, 4, 1), Gradient(step, w));
    }

    [Theory]
    [InlineData(SyncMode.Bsp)]
    [InlineData(SyncMode.Ssp)]
    public void A_resumed_shard_goes_on_bit_for_bit_like_the_original(SyncMode mode)
    {
        var job = Job(mode, workers: 2, steps: 10, staleness: 3);
        using var original = Create(job, Filled(0.5f), optimizer: Adam);
        RegisterAll(original, 2);
        for (long t = 0; t < 3; t++) Step(original, t);

        using var resumed = Create(job, Filled(0.5f), optimizer: Adam, resume: original.Checkpoint());
        RegisterAll(resumed, 2);
        Assert.Equal(original.Status().Step, resumed.Status().Step);
        Assert.Equal(original.Status().WorkerSteps, resumed.Status().WorkerSteps);
        for (long t = 3; t < 6; t++)
        {
            Step(original, t);
            Step(resumed, t);
        }

        Assert.Equal(Parameters(original), Parameters(resumed));
        Assert.NotEqual(Filled(0.5f), Parameters(resumed));
    }

    [Fact]
    public void A_checkpoint_of_another_job_or_shard_is_refused()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 10));
        var checkpoint = shard.Checkpoint();

        var otherJob = Assert.Throws<ArgumentException>(() => Create(Job(SyncMode.Bsp, workers: 2, steps: 11), resume: checkpoint));
        var otherShard = Assert.Throws<ArgumentException>(() => Create(Job(SyncMode.Bsp, workers: 2, steps: 10), resume: checkpoint with { Shard = 1 }));

        Assert.Contains("another job", otherJob.Message);
        Assert.Contains("shard 1 of 1", otherShard.Message);
    }

    [Fact]
    public void A_per_range_checkpoint_keeps_no_worker_clock_past_its_step()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 10) with { PieceFloats = 4 });
        RegisterAll(shard, 2);
        foreach (var range in shard.ClosingRanges!)
            Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0, Piece: range), new float[range.Length]).IsApplied);
        Assert.Equal([1L, 0L], shard.Status().WorkerSteps);   // worker 0 pushed every range of step 0, worker 1 none

        var taken = shard.Checkpoint();

        // Step 0's boundary holds nothing worker 0 pushed: resumed from it, worker 0 must push step 0 again.
        Assert.Equal(0, taken.Step);
        Assert.Equal([0L, 0L], taken.WorkerClocks);
    }
}
