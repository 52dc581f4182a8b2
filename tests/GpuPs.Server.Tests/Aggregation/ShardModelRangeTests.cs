using GpuPs.Core.Aggregation;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// A <see cref="ShardModel"/> cut into closing ranges: the ranges must tile the shard, every offset finds its range, a
/// range updates alone and the model's step is the oldest range's, a range whose update is not finite is skipped alone
/// (only its optimizer starts afresh), and the ranges' optimizer step counts survive an export and a resume.
/// </summary>
public class ShardModelRangeTests
{
    private static readonly IComputeBackend Simd = Accelerators.Create(AcceleratorChoice.Simd);
    private static readonly OptimizerSettings Sgd = new(OptimizerKind.Sgd, 1f);
    private static readonly OptimizerSettings Steep = new(OptimizerKind.Momentum, 1e30f, Momentum: 0.5f);   // an update that can overflow
    private static readonly PieceRange[] Cut = [new(0, 3), new(3, 1), new(4, 4)];   // 8 values

    private static ShardModel Model(float[] parameters, IReadOnlyList<PieceRange>? ranges = null, OptimizerSettings? optimizer = null, List<int>? created = null) =>
        new(parameters, ranges ?? Cut, length =>
        {
            created?.Add(length);
            return Simd.CreateOptimizer(optimizer ?? Sgd, length);
        }, Log.Logger);

    private static float[] Ones(int length = 8) => Enumerable.Repeat(1f, length).ToArray();

    public static TheoryData<PieceRange[]> NotTiling => new()
    {
        { [new(0, 3), new(4, 4)] },              // a gap
        { [new(0, 3), new(2, 6)] },              // an overlap
        { [new(0, 3), new(3, 4)] },              // short of the end
        { [new(0, 3), new(3, 6)] },              // past the end
        { [new(3, 5), new(0, 3)] },              // out of key order
        { [new(1, 7)] },                         // not from the start
    };

    [Theory]
    [MemberData(nameof(NotTiling))]
    public void Ranges_that_do_not_tile_the_shard_in_key_order_are_refused(PieceRange[] ranges)
    {
        var e = Assert.Throws<ArgumentException>(() => Model(Ones(), ranges));
        Assert.Contains("must tile the shard's 8 values", e.Message);
    }

    [Fact]
    public void Every_offset_finds_the_range_that_holds_it()
    {
        using var model = Model(Ones());
        Assert.Equal([0, 0, 0, 1, 2, 2, 2, 2], Enumerable.Range(0, 8).Select(model.RangeOf));
        PieceRange[] many = [new(0, 1), new(1, 2), new(3, 1), new(4, 3), new(7, 2), new(9, 1), new(10, 5)];
        using var finer = Model(Ones(15), many);
        Assert.Equal([0, 1, 1, 2, 3, 3, 3, 4, 4, 5, 6, 6, 6, 6, 6], Enumerable.Range(0, 15).Select(finer.RangeOf));
        using var whole = Model(Ones(), ranges: [new(0, 8)]);
        Assert.Equal(0, whole.RangeOf(7));
        Assert.Equal([new PieceRange(0, 8)], whole.Ranges);
    }

    [Fact]
    public void A_range_updates_alone_and_the_step_advances_when_its_last_range_has()
    {
        using var model = Model(Ones());
        Assert.True(model.ApplyRange(1, new float[] { 4f }, samples: 2, lossSum: 6));
        Assert.Equal([1f, 1f, 1f, -1f, 1f, 1f, 1f, 1f], model.Parameters.ToArray());   // 1 − 4/2
        Assert.Equal((0L, 1L, 0L, 1L, false, 3.0), (model.Step, model.RangeStep(1), model.RangeStep(0), model.RangesClosed, model.AtStepBoundary, model.LastMeanLoss));

        Assert.True(model.ApplyRange(1, new float[] { 2f }, 1, 0));     // range 1 of step 1 while ranges 0 and 2 are still at step 0
        Assert.Equal((0L, 2L, 2L), (model.Step, model.RangeStep(1), model.RangesClosed));
        Assert.True(model.ApplyRange(0, new float[] { 1f, 1f, 1f }, 1, 0));
        Assert.Equal(0, model.Step);
        Assert.True(model.ApplyRange(2, new float[] { 1f, 1f, 1f, 1f }, 1, 0));
        Assert.Equal((1L, false), (model.Step, model.AtStepBoundary));   // range 1 is a step ahead
        Assert.True(model.ApplyRange(2, new float[] { 1f, 1f, 1f, 1f }, 1, 0));
        Assert.Equal(1, model.Step);                                      // range 0 still at step 1
        Assert.True(model.ApplyRange(0, new float[] { 1f, 1f, 1f }, 1, 0));
        Assert.Equal((2L, true, 6L), (model.Step, model.AtStepBoundary, model.RangesClosed));
        Assert.Equal([-1f, -1f, -1f, -3f, -1f, -1f, -1f, -1f], model.Parameters.ToArray());
    }

    [Fact]
    public void A_range_update_of_the_wrong_length_or_without_rows_is_refused_and_changes_nothing()
    {
        using var model = Model(Ones());
        Assert.Contains("range 1 holds 1 values, the gradient 3", Assert.Throws<ArgumentException>(() => model.ApplyRange(1, new float[3], 1, 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ApplyRange(0, new float[3], 0, 0));
        Assert.Equal((0L, 0L, 0L), (model.Step, model.RangeStep(1), model.RangesClosed));
        Assert.Equal(Ones(), model.Parameters.ToArray());
    }

    [Fact]
    public void A_whole_update_of_a_cut_model_skips_only_the_range_whose_update_is_not_finite_and_restarts_only_its_optimizer()
    {
        var created = new List<int>();
        using var model = Model([1f, 1f, 1f, 3e38f, 1f, 1f, 1f, 1f], optimizer: Steep, created: created);
        Assert.Equal([3, 1, 4], created);
        // Range 1's update overflows (3e38 + 1e30 · 1e9 is no float); ranges 0 and 2 are applied.
        Assert.False(model.ApplySum([1f, 1f, 1f, -1e9f, 1f, 1f, 1f, 1f], samples: 1, lossSum: 2));
        Assert.Equal([-1e30f, -1e30f, -1e30f, 3e38f, -1e30f, -1e30f, -1e30f, -1e30f], model.Parameters.ToArray());
        Assert.Equal((1L, 1L, 3L, 2.0), (model.Step, model.UpdatesSkipped, model.RangesClosed, model.LastMeanLoss));
        Assert.Equal([3, 1, 4, 1], created);   // range 1's optimizer alone starts afresh

        var state = model.ExportOptimizer();
        Assert.Equal([1L, 0L, 1L], Assert.IsType<long[]>(state.RangeSteps));      // its step count too
        Assert.Equal([1f, 1f, 1f, 0f, 1f, 1f, 1f, 1f], state.Slots[0]);   // velocities, end to end

        // A gradient beyond the limit is skipped before the optimizer sees it: no restart.
        Assert.False(model.ApplySum([1f, 1f, 1f, 1f, 1e20f, 1f, 1f, 1f], 1, 0));
        Assert.Equal((2L, 2L), (model.Step, model.UpdatesSkipped));
        Assert.Equal(4, created.Count);
        Assert.True(model.ApplySum(new float[8], 1, 0));
    }

    [Fact]
    public void A_resume_gives_each_range_its_own_optimizer_step_count_and_refuses_a_state_of_another_cut()
    {
        using var original = Model([1f, 1f, 1f, 3e38f, 1f, 1f, 1f, 1f], optimizer: Steep);
        original.ApplySum([1f, 2f, 3f, -1e9f, 4f, 5f, 6f, 7f], 1, 0);   // range 1 restarts
        var state = original.ExportOptimizer();

        using var resumed = Model(Ones(), optimizer: Steep);
        resumed.ApplyRange(0, new float[3], 1, 0);   // mid-step: the resume puts every range at the checkpoint's step
        resumed.Resume(5, original.Parameters, state);
        Assert.Equal((5L, true), (resumed.Step, resumed.AtStepBoundary));
        Assert.Equal([5L, 5L, 5L], Enumerable.Range(0, 3).Select(resumed.RangeStep));
        var again = resumed.ExportOptimizer();
        Assert.Equal(state.RangeSteps, again.RangeSteps);
        Assert.Equal(state.Slots[0], again.Slots[0]);
        Assert.Equal(original.Parameters.ToArray(), resumed.Parameters.ToArray());

        Assert.Contains("counts steps for 2 ranges, the shard closes 3",
            Assert.Throws<ArgumentException>(() => resumed.Resume(1, original.Parameters, state with { RangeSteps = [1, 1] })).Message);
        Assert.Contains("slots are not of the shard's 8 values",
            Assert.Throws<ArgumentException>(() => resumed.Resume(1, original.Parameters, state with { Slots = [new float[4]] })).Message);
        Assert.Equal(5, resumed.Step);
    }
}
