using GpuPs.Core.Aggregation;
using GpuPs.Kernels;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="ShardModel"/> alone: the update contract (skipped updates leave the parameters as they were), the
/// optimizer's export and resume that checkpoints rely on, and the refusals of a resume that does not fit.
/// </summary>
public class ShardModelTests
{
    private static readonly IComputeBackend Simd = Accelerators.Create(AcceleratorChoice.Simd);
    private static readonly OptimizerSettings Momentum = new(OptimizerKind.Momentum, LearningRate: 0.5f, Momentum: 0.5f);

    private static ShardModel Model(float[] parameters, OptimizerSettings? optimizer = null, Action? onCreate = null) =>
        new(parameters, () =>
        {
            onCreate?.Invoke();
            return Simd.CreateOptimizer(optimizer ?? Momentum, parameters.Length);
        }, Log.Logger);

    [Fact]
    public void An_update_takes_the_mean_gradient_and_the_mean_loss()
    {
        using var model = Model([1f, 2f], new OptimizerSettings(OptimizerKind.Sgd, 1f));
        float[] sum = [4f, -8f];
        Assert.True(model.ApplySum(sum, samples: 4, lossSum: 6));
        Assert.Equal([0f, 4f], model.Parameters.ToArray());
        Assert.Equal(1.5, model.LastMeanLoss);
        Assert.Equal(1, model.Step);
        Assert.Equal(0, model.UpdatesSkipped);
    }

    [Fact]
    public void Skipped_updates_close_the_step_leave_the_parameters_and_reset_the_optimizer_only_when_it_took_the_gradient()
    {
        int created = 0;
        using var model = Model([1f, 1f], onCreate: () => created++);
        Assert.True(model.ApplySum([2f, 2f], 1, 0.5));                    // v = 2, p = 1 − 0.5·2 = 0
        Assert.Equal([0f, 0f], model.Parameters.ToArray());

        Assert.False(model.ApplySum([1e20f, 0f], 1, 1));                   // mean gradient beyond 1e19: the optimizer never saw it
        Assert.False(model.ApplySum([1f, 1f], 1, double.PositiveInfinity));
        Assert.Equal(1, created);
        Assert.Equal(3, model.Step);
        Assert.Equal(2, model.UpdatesSkipped);
        Assert.Equal(0.5, model.LastMeanLoss);
        Assert.Equal([0f, 0f], model.Parameters.ToArray());

        // The velocity survived the two skips: v = 0.5·2 + 2 = 3, p = 0 − 0.5·3.
        Assert.True(model.ApplySum([2f, 2f], 1, 0));
        Assert.Equal([-1.5f, -1.5f], model.Parameters.ToArray());
        Assert.Equal(2f, model.ExportOptimizer().Slots[0][0] - 1f);        // v = 3
    }

    [Fact]
    public void An_update_that_would_overflow_is_skipped_and_a_fresh_optimizer_takes_over()
    {
        int created = 0;
        using var model = Model([3e38f, 0f], new OptimizerSettings(OptimizerKind.Momentum, 1e30f, Momentum: 0.5f), () => created++);
        Assert.False(model.ApplySum([-1e9f, 0f], 1, 0));                   // 3e38 + 1e39 is not a float
        Assert.Equal(2, created);
        Assert.Equal([3e38f, 0f], model.Parameters.ToArray());
        Assert.All(model.ExportOptimizer().Slots[0], v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(GradientLimits.MaxSampleCount + 1)]
    public void A_step_counts_one_to_the_row_limit(long samples)
    {
        using var model = Model([1f]);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ApplySum([1f], samples, 0));
        Assert.Equal(0, model.Step);
    }

    [Fact]
    public void Initial_parameters_must_be_finite_and_an_empty_shard_still_counts_steps()
    {
        Assert.Throws<ArgumentException>(() => Model([0f, float.NaN]));
        Assert.Throws<ArgumentException>(() => Model([float.PositiveInfinity]));
        using var empty = Model([]);
        Assert.True(empty.ApplySum([], 1, 2));
        Assert.Equal(1, empty.Step);
        Assert.Equal(2, empty.LastMeanLoss);
    }

    [Fact]
    public void Resume_restores_step_parameters_and_optimizer_state_so_the_next_update_matches()
    {
        using var original = Model([1f, -1f]);
        original.ApplySum([1f, 2f], 1, 0);
        original.ApplySum([3f, -1f], 2, 0);

        using var resumed = Model([0f, 0f]);
        resumed.Resume(original.Step, original.Parameters, original.ExportOptimizer());
        Assert.Equal(2, resumed.Step);
        Assert.Equal(original.Parameters.ToArray(), resumed.Parameters.ToArray());

        original.ApplySum([1f, 1f], 1, 0);
        resumed.ApplySum([1f, 1f], 1, 0);
        Assert.Equal(original.Parameters.ToArray(), resumed.Parameters.ToArray());   // the velocity came along
    }

    [Fact]
    public void A_resume_that_does_not_fit_is_refused_and_changes_nothing()
    {
        using var model = Model([1f, 1f]);
        var state = model.ExportOptimizer();
        Assert.Contains("holds 3 parameters, the shard 2", Assert.Throws<ArgumentException>(() => model.Resume(1, [1f, 1f, 1f], state)).Message);
        Assert.Contains("not all finite", Assert.Throws<ArgumentException>(() => model.Resume(1, [1f, float.NaN], state)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Resume(-1, [2f, 2f], state));
        Assert.Equal(0, model.Step);
        Assert.Equal([1f, 1f], model.Parameters.ToArray());

        using var empty = Model([]);
        empty.Resume(4, [], Simd.CreateOptimizer(Momentum, 0).ExportState());
        Assert.Equal(4, empty.Step);
    }
}
