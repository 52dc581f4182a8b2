using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="CodedAggregator"/> on its own, without the shard's checks in front of it: the decode with a code of real
/// coefficients (each worker pushes c_i = Σ_j B[i,j] g_j and the loss Σ_j B[i,j] ℓ_j, and the step applies Σ_j g_j and
/// reports Σ_j ℓ_j, each weighted by the decoder's a_i), its own refusals of code rows, node pushes and duplicates, and
/// a membership change with nothing pushed.
/// </summary>
public class CodedAggregatorTests
{
    private const int Workers = 5, Stragglers = 2, Length = 3, Samples = 10;

    // Partition j's gradient is j + 1 in every component and its loss 10 (j + 1): Σ_j g_j = 15, Σ_j ℓ_j = 150.
    private static double Gradient(int partition) => partition + 1;

    private static PushHeader Coded(IGradientCode code, int worker) =>
        new(worker, 0, 0, Samples, Encode(code, worker, j => 10 * Gradient(j)), CodeRow: worker);

    private static float[] CodedVector(IGradientCode code, int worker) => Filled((float)Encode(code, worker, Gradient));

    private static double Encode(IGradientCode code, int worker, Func<int, double> partitionValue) =>
        Enumerable.Range(0, code.Partitions).Sum(j => code[worker, j] * partitionValue(j));

    [Fact]
    public void The_decoded_step_applies_the_sum_of_every_partitions_gradient_and_reports_the_sum_of_their_losses()
    {
        var code = new CyclicRepetitionCode(Workers, Stragglers);   // real coefficients, some negative weights to decode
        var (model, slots) = (AggregatorFixture.Model(Length), AggregatorFixture.Slots(Workers));
        var aggregator = new CodedAggregator(model, slots, totalSteps: 10, code, Log.Logger);

        Assert.False(aggregator.Accept(slots[4], Coded(code, 4), CodedVector(code, 4)).ClosedStep);
        Assert.False(aggregator.Accept(slots[1], Coded(code, 1), CodedVector(code, 1)).ClosedStep);
        Assert.True(aggregator.Accept(slots[2], Coded(code, 2), CodedVector(code, 2)).ClosedStep);

        // SGD with rate 1 from 0: minus the mean, 15 / 10; the mean loss 150 / 10.
        Assert.All(model.Parameters.ToArray(), p => Assert.Equal(-1.5f, p, 4));
        Assert.Equal(15.0, model.LastMeanLoss, 4);
        Assert.Equal(1, model.Step);
    }

    [Fact]
    public void A_push_without_its_own_code_row_is_refused_naming_the_row_and_the_workers_assignment()
    {
        var (aggregator, slots) = Fractional();

        var none = Assert.Throws<ShardException>(() => aggregator.Accept(slots[1], new PushHeader(1, 0, 0, Samples, 0), Filled(1)));
        var foreign = Assert.Throws<ShardException>(() => aggregator.Accept(slots[1], new PushHeader(1, 0, 0, Samples, 0, CodeRow: 2), Filled(1)));

        Assert.Equal((ShardErrorKind.InvalidRequest, "coded push of worker 1 has no code_row"), (none.Kind, none.Message));
        Assert.Equal((ShardErrorKind.InvalidRequest, "code row 2 does not match worker 1's assignment (row 1 of B, partitions 0,1)"),
            (foreign.Kind, foreign.Message));
    }

    [Fact]
    public void A_node_push_is_refused_for_another_row_than_its_first_workers_for_different_rows_of_B_and_for_a_worker_that_pushed()
    {
        // Fractional, n = 4, s = 1: groups {0,1} and {2,3} hold partitions {0,1} and {2,3}.
        var (aggregator, slots) = Fractional();

        var otherRow = Assert.Throws<ShardException>(() => aggregator.AcceptGroup([slots[0], slots[1]], Node(1, 0, 1), Filled(1)));
        var otherGroup = Assert.Throws<ShardException>(() => aggregator.AcceptGroup([slots[0], slots[2]], Node(0, 0, 2), Filled(1)));
        Assert.False(aggregator.Accept(slots[1], new PushHeader(1, 0, 0, Samples, 0, CodeRow: 1), Filled(1)).ClosedStep);
        var duplicate = aggregator.AcceptGroup([slots[0], slots[1]], Node(0, 0, 1), Filled(1));
        var again = aggregator.Accept(slots[1], new PushHeader(1, 0, 0, Samples, 0, CodeRow: 1), Filled(1));

        Assert.Equal("coded node push for workers 0,1 has code_row 1, not 0", otherRow.Message);
        Assert.Contains("workers 0 and 2 have different rows of B (partitions 0,1 and 2,3)", otherGroup.Message);
        Assert.Equal((PushOutcomeKind.Duplicate, "worker 1 already pushed step 0"), (duplicate.Kind, duplicate.Reason));
        Assert.Equal((PushOutcomeKind.Duplicate, "worker 1 already pushed step 0"), (again.Kind, again.Reason));
    }

    [Fact]
    public void A_membership_change_with_nothing_pushed_closes_no_step()
    {
        var (aggregator, _) = Fractional();

        Assert.False(aggregator.OnMembershipChanged());
    }

    private static (CodedAggregator Aggregator, WorkerSlot[] Slots) Fractional()
    {
        var slots = AggregatorFixture.Slots(4);
        return (new CodedAggregator(AggregatorFixture.Model(Length), slots, totalSteps: 10, new FractionalRepetitionCode(4, 1), Log.Logger), slots);
    }

    private static PushHeader Node(int codeRow, params int[] workers) =>
        new(workers[0], 0, 0, Samples, 0, CodeRow: codeRow, Contributors: new ContributorList(workers));

    private static float[] Filled(float value) => Enumerable.Repeat(value, Length).ToArray();
}
