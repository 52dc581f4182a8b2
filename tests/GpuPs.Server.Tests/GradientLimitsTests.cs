using GpuPs.Core.Aggregation;
using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// Issue 11, numerics: no push, however large its values or row count, can make the parameters non-finite or flip an
/// update's sign, and honest pushes are still applied afterwards.
/// </summary>
public class GradientLimitsTests
{
    private const long MaxRows = GradientLimits.MaxSampleCount;

    [Fact]
    public void Pushes_of_3e38_are_refused_and_honest_pushes_still_close_the_step()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), Filled(1f));
        RegisterAll(shard, 2);

        // Each is finite, but two of them summed to +Inf in float32, and the parameters became -Inf.
        AssertError(ShardErrorKind.InvalidRequest, "beyond the limit", () => shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(3e38f)));
        AssertError(ShardErrorKind.InvalidRequest, "beyond the limit", () => shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(3e38f)));
        // So large a value is fine over enough rows: its mean is what counts.
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 1L << 30, 0), Filled(3e27f)).ClosedStep);
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1L << 30, 0), Filled(-3e27f)).ClosedStep);

        Assert.Equal(Filled(1f), Parameters(shard));
        Assert.True(shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f)).IsApplied);
        Assert.True(shard.Push(new PushHeader(1, 1, 0, 1, 0), Filled(3f)).ClosedStep);
        Assert.Equal(Filled(-1f), Parameters(shard));
        Assert.Equal(0, shard.Status().UpdatesSkipped);
    }

    [Fact]
    public void An_asynchronous_push_of_3e38_is_refused_and_changes_nothing()
    {
        using var shard = Create(Job(SyncMode.Asp, workers: 1, steps: 5), Filled(1f));
        RegisterAll(shard, 1);
        AssertError(ShardErrorKind.InvalidRequest, "beyond the limit", () => shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(-3e38f)));
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 2, 0), Filled(4f)).ClosedStep);
        Assert.Equal(Filled(-1f), Parameters(shard));
        Assert.Equal(1, shard.Status().Step);
    }

    [Fact]
    public void Row_counts_beyond_2_to_the_40_per_push_or_per_step_are_refused()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), Filled(1f));
        RegisterAll(shard, 2);

        // 2^63 - 1 and 2 rows once overflowed the step's count to a negative number and flipped the update's sign.
        AssertError(ShardErrorKind.InvalidRequest, "sample count must be 1 to", () => shard.Push(new PushHeader(0, 0, 0, long.MaxValue, 0), Filled(1f)));
        AssertError(ShardErrorKind.InvalidRequest, "sample count must be 1 to", () => shard.Admit(new PushHeader(0, 0, 0, long.MaxValue, 0)));
        AssertError(ShardErrorKind.InvalidRequest, "sample count must be 1 to", () => shard.Push(new PushHeader(0, 0, 0, MaxRows + 1, 0), Filled(1f)));
        Assert.False(shard.Push(new PushHeader(0, 0, 0, MaxRows, 0), Filled(1f)).ClosedStep);
        AssertError(ShardErrorKind.InvalidRequest, "past 1099511627776 rows", () => shard.Push(new PushHeader(1, 0, 0, 2, 0), Filled(1f)));

        Assert.Equal(Filled(1f), Parameters(shard));
        Assert.Equal(0, shard.Status().Step);
        Assert.Equal(new long[] { 1, 0 }, shard.Status().WorkerSteps);
    }

    [Fact]
    public void A_loss_sum_that_would_overflow_the_step_is_refused()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 1e308), Filled(1f));
        AssertError(ShardErrorKind.InvalidRequest, "loss sum overflow", () => shard.Push(new PushHeader(1, 0, 0, 1, 1e308), Filled(1f)));
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1, 1), Filled(1f)).ClosedStep);
        Assert.True(double.IsFinite(shard.Status().MeanLoss));
    }

    [Fact]
    public void A_decoded_gradient_beyond_the_limit_closes_the_step_without_an_update()
    {
        // Uncoded, n = 2: the decode is c_0 + c_1. Each push's mean is within the limit; their sum is not.
        var job = Job(SyncMode.Coded, workers: 2, steps: 5) with { Code = "uncoded" };
        using var shard = Create(job, Filled(1f));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0, CodeRow: 0), Filled(-GradientLimits.MaxMeanGradient));
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1, 0, CodeRow: 1), Filled(-GradientLimits.MaxMeanGradient)).ClosedStep);

        Assert.Equal(Filled(1f), Parameters(shard));
        Assert.Equal(1, shard.Status().Step);
        Assert.Equal(1, shard.Status().UpdatesSkipped);

        shard.Push(new PushHeader(0, 1, 0, 2, 0, CodeRow: 0), Filled(1f));
        Assert.True(shard.Push(new PushHeader(1, 1, 0, 2, 0, CodeRow: 1), Filled(3f)).ClosedStep);
        Assert.Equal(Filled(-1f), Parameters(shard));
    }

    [Fact]
    public void An_update_that_would_overflow_the_parameters_is_skipped_and_the_optimizer_state_starts_afresh()
    {
        // Momentum with an absurd learning rate: the first update would take the parameters to -1e40 (-Inf in float32).
        var momentum = new OptimizerSettings(OptimizerKind.Momentum, LearningRate: 1e30f, Momentum: 0.9f);
        using var shard = Create(Job(SyncMode.Asp, workers: 1, steps: 5), optimizer: momentum);
        RegisterAll(shard, 1);

        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1e10f)).IsApplied);
        Assert.Equal(new float[Length], Parameters(shard));
        Assert.Equal(1, shard.Status().UpdatesSkipped);

        // Had the velocity kept the skipped 1e10, this update (lr · (0.9e10 + 1)) would overflow too and be skipped.
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        Assert.Equal(Filled(-1e30f), Parameters(shard));
        Assert.Equal(1, shard.Status().UpdatesSkipped);
        Assert.Equal(2, shard.Status().Step);
    }
}
