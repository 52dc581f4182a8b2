using GpuPs.Core.Aggregation;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.Aggregation.AggregatorFixture;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="QuorumAggregator"/> without a shard: a worker's second push of the open step, alone or inside a node's
/// sum, is a Duplicate naming the worker and the step, and adds nothing to the step's sum.
/// </summary>
public class QuorumAggregatorTests
{
    private static PushHeader Header(int worker, long step) => new(worker, step, 0, 1, 1.0);

    private static float[] Values(float value) => Enumerable.Repeat(value, 4).ToArray();

    [Fact]
    public void A_second_push_of_the_open_step_alone_or_in_a_node_s_sum_is_a_duplicate_naming_worker_and_step()
    {
        var model = Model(4);
        var slots = Slots(3);
        var aggregator = new QuorumAggregator(model, slots, totalSteps: 10, quorum: 3);
        Assert.True(aggregator.Accept(slots[0], Header(0, 0), Values(1f)).IsApplied);

        AssertOutcome(PushOutcomeKind.Duplicate, "worker 0 already pushed step 0", aggregator.Accept(slots[0], Header(0, 0), Values(100f)));
        AssertOutcome(PushOutcomeKind.Duplicate, "worker 0 already pushed step 0", aggregator.AcceptGroup([slots[1], slots[0]], Header(1, 0), Values(100f)));
        Assert.True(aggregator.Accept(slots[1], Header(1, 0), Values(2f)).IsApplied);
        var closing = aggregator.Accept(slots[2], Header(2, 0), Values(3f));

        Assert.True(closing.ClosedStep);
        Assert.Equal(Values(-2f), model.Parameters.ToArray());   // 0 - (1 + 2 + 3) / 3 rows: neither duplicate was added
    }
}
