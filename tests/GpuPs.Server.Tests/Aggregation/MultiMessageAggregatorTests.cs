using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.Aggregation.AggregatorFixture;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="MultiMessageAggregator"/> over a fractional n = 4, s = 1 assignment (workers 0 and 1 hold partitions 0 and
/// 1, workers 2 and 3 hold 2 and 3): a partition's second replica is ignored, not refused and not added; a worker's
/// second message for a partition is a duplicate within a step, and welcome again in the next.
/// </summary>
public class MultiMessageAggregatorTests
{
    private const int Workers = 4, Length = 2;

    private static (MultiMessageAggregator Aggregator, ShardModel Model, WorkerSlot[] Slots) Create()
    {
        var (model, slots) = (Model(Length), Slots(Workers));
        return (new MultiMessageAggregator(model, slots, totalSteps: 10, new FractionalRepetitionCode(Workers, 1)), model, slots);
    }

    private static PushOutcome Push(MultiMessageAggregator aggregator, WorkerSlot worker, long step, int partition, float value) =>
        aggregator.Accept(worker, new PushHeader(worker.Id, step, 0, 1, 0, Partition: partition), [value, value]);

    [Fact]
    public void A_partitions_second_replica_is_ignored_and_the_step_closes_once_every_partition_is_covered()
    {
        var (aggregator, model, slots) = Create();

        Assert.False(Push(aggregator, slots[0], 0, partition: 0, 1).ClosedStep);
        var replica = Push(aggregator, slots[1], 0, partition: 0, 100);
        var again = Push(aggregator, slots[1], 0, partition: 0, 100);
        Assert.False(Push(aggregator, slots[1], 0, partition: 1, 2).ClosedStep);
        Assert.False(Push(aggregator, slots[3], 0, partition: 2, 3).ClosedStep);
        var closing = Push(aggregator, slots[2], 0, partition: 3, 4);

        Assert.True(replica.IsApplied && !replica.ClosedStep, replica.ToString());
        Assert.Equal(PushOutcomeKind.Duplicate, again.Kind);
        Assert.True(closing.ClosedStep);
        Assert.Equal([-2.5f, -2.5f], model.Parameters.ToArray());   // (1 + 2 + 3 + 4) over 4 rows: the replica's 100 is not in it
    }

    [Fact]
    public void A_worker_sends_the_same_partition_again_in_the_next_step()
    {
        var (aggregator, model, slots) = Create();
        foreach (var (w, p) in new[] { (0, 0), (0, 1), (2, 2), (2, 3) }) Push(aggregator, slots[w], 0, p, 1);
        Assert.Equal(1, model.Step);

        foreach (var (w, p) in new[] { (0, 0), (0, 1), (2, 2) })
            Assert.Equal(PushOutcomeKind.Applied, Push(aggregator, slots[w], 1, p, 1).Kind);
        Assert.True(Push(aggregator, slots[2], 1, 3, 1).ClosedStep);
        Assert.Equal(2, model.Step);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4)]
    [InlineData(2)]
    public void A_partition_out_of_range_or_not_held_is_refused_naming_what_the_worker_holds(int partition)
    {
        var (aggregator, model, slots) = Create();

        var e = Assert.Throws<ShardException>(() => Push(aggregator, slots[0], 0, partition, 1));

        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains($"partition {partition} is not assigned to worker 0 (it holds 0,1)", e.Message);
        Assert.Equal(0, model.Step);
    }
}
