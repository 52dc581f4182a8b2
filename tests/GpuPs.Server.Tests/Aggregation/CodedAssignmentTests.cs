using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="CodedAggregator.UseAssignment"/>, the swap of code a heterogeneous (proportional) coded job makes at a step
/// boundary: from then on the step decodes with the new code, and pushes held under the old one are dropped.
/// </summary>
public class CodedAssignmentTests
{
    private const int Workers = 4, Length = 3;

    private static (CodedAggregator Aggregator, ShardModel Model, WorkerSlot[] Slots) Coded(IGradientCode code)
    {
        var (model, slots) = (AggregatorFixture.Model(Length), AggregatorFixture.Slots(Workers));
        return (new CodedAggregator(model, slots, totalSteps: 10, code, Log.Logger), model, slots);
    }

    private static PushOutcome Push(CodedAggregator aggregator, WorkerSlot worker, float value, long samples = 4) =>
        aggregator.Accept(worker, new PushHeader(worker.Id, 0, 0, samples, 0, CodeRow: worker.Id), [value, value, value]);

    [Fact]
    public void After_the_swap_the_step_decodes_with_the_new_code()
    {
        // Fractional n = 4, s = 1 decodes from workers {0, 3}; the uncoded assignment needs all four.
        var (aggregator, model, slots) = Coded(new FractionalRepetitionCode(Workers, 1));
        aggregator.UseAssignment(new UncodedAssignment(Workers));

        Assert.False(Push(aggregator, slots[0], 1).ClosedStep);
        Assert.False(Push(aggregator, slots[3], 1).ClosedStep);
        Assert.False(Push(aggregator, slots[1], 1).ClosedStep);
        Assert.True(Push(aggregator, slots[2], 1).ClosedStep);
        Assert.Equal([-1f, -1f, -1f], model.Parameters.ToArray());   // Σ of four unit rows over 4 samples
    }

    [Fact]
    public void Pushes_held_when_the_code_changes_are_dropped_and_the_step_waits_for_pushes_under_the_new_code()
    {
        var (aggregator, model, slots) = Coded(new FractionalRepetitionCode(Workers, 1));
        Assert.False(Push(aggregator, slots[0], 100, samples: 8).ClosedStep);
        aggregator.UseAssignment(new FractionalRepetitionCode(Workers, 1));

        // Worker 0's push was encoded with the old code: worker 3 alone covers one group of two, so no decode yet,
        // and its row count need not match the dropped push's.
        Assert.False(Push(aggregator, slots[3], 2).ClosedStep);
        Assert.Equal(0, model.Step);
        Assert.True(Push(aggregator, slots[1], 2).ClosedStep);
        Assert.Equal([-1f, -1f, -1f], model.Parameters.ToArray());   // fractional groups {0,1},{2,3}: (2 + 2) / 4
    }

    [Fact]
    public void A_code_for_another_number_of_workers_is_refused()
    {
        var (aggregator, _, slots) = Coded(new FractionalRepetitionCode(Workers, 1));
        Assert.Contains("code is for 6 workers, the job has 4", Assert.Throws<ArgumentException>(() => aggregator.UseAssignment(new UncodedAssignment(6))).Message);
        Assert.Contains("code is for 3 workers, the job has 4", Assert.Throws<ArgumentException>(() => new CodedAggregator(
            new ShardModel(new float[Length], () => Accelerators.Create(AcceleratorChoice.Simd).CreateOptimizer(new OptimizerSettings(OptimizerKind.Sgd, 1f), Length), Log.Logger),
            slots, 10, new UncodedAssignment(3), Log.Logger)).Message);
    }
}
