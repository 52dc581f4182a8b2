using GpuPs.Core.Coding;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;

namespace GpuPs.Core.Tests.Heterogeneity;

/// <summary>Proportional assignment for uncoded modes: the identity code with partitions sized by speed.</summary>
public class ProportionalAssignmentTests
{
    [Fact]
    public void PartitionsAreProportionalToSpeedAndCoverEveryRowOnce()
    {
        var data = TestData.Indexed(700);
        var code = new UncodedAssignment([1.0, 2.0, 4.0]);

        var plans = Enumerable.Range(0, 3).Select(i => new PartitionPlan(data, code, i, batchSize: 0)).ToArray();

        Assert.Equal(new[] { 100, 200, 400 }, plans.Select(p => p.Data.Rows));
        Assert.Equal(Enumerable.Range(0, 700), plans.SelectMany(p => TestData.OriginalRows(p.Data)).Order());
        Assert.All(plans, p => Assert.Equal(700, p.StepRows));
    }

    [Fact]
    public void MiniBatchesAreSharedByTheSameWeightsSoEveryRowCountsAlike()
    {
        var code = new UncodedAssignment([1.0, 2.0, 4.0]);

        var plans = Enumerable.Range(0, 3).Select(i => new PartitionPlan(TestData.Indexed(700), code, i, batchSize: 10)).ToArray();

        // 3 partitions × 10 rows = 30 rows a step, in proportion 1 : 2 : 4 (4.3, 8.6, 17.1 rounded by prefix sums).
        Assert.Equal(new[] { 4, 8, 18 }, plans.Select(p => p.BatchRowsOf(0)));
        Assert.All(plans, p => Assert.Equal(30, p.StepRows));
    }

    [Fact]
    public void EqualPartitionsKeepTheBatchSizeAsGiven()
    {
        var plan = new PartitionPlan(TestData.Indexed(700), new UncodedAssignment(3), 1, batchSize: 10);

        Assert.Equal(10, plan.BatchRowsOf(0));
        Assert.Equal(30, plan.StepRows);
    }

    [Fact]
    public void TheFactoryNamesTheSpeedsInTheConstructionAndRefusesThemForEqualCodes()
    {
        var code = GradientCodeFactory.Create("uncoded", 3, 0, [1.0, 2.0, 4.0]);

        Assert.Equal(new[] { 1.0, 2.0, 4.0 }, code.PartitionWeights);
        Assert.Contains("1:2:4", code.Construction);
        Assert.Contains("no speeds", Assert.Throws<ArgumentException>(() => GradientCodeFactory.Create("cyclic", 3, 1, [1.0, 2.0, 4.0])).Message);
        Assert.Contains("one speed per worker", Assert.Throws<ArgumentException>(() => GradientCodeFactory.Create("hetero", 3, 1, [1.0, 2.0])).Message);
    }

    [Fact]
    public void TheConstructionNamesTheSpeedsAndTheZeroShares()
    {
        Assert.Equal("identity, partitions in proportion to speeds 1:0:2.5:0, zero shares for workers 1,3",
            new UncodedAssignment([1.0, 0.0, 2.5, 0.0]).Construction);
        Assert.Equal("identity, partitions in proportion to speeds 1:2", new UncodedAssignment([1.0, 2.0]).Construction);
        Assert.Equal("identity", new UncodedAssignment(2).Construction);
    }
    [Fact]
    public void BothConstructionsAreTheUncodedFamily()
    {
        Assert.Equal("uncoded", new UncodedAssignment(3).Name);
        Assert.Equal("uncoded", new UncodedAssignment([1.0, 0.0, 2.0]).Name);
    }

    [Fact]
    public void NoSpeedsAreRefusedAsTooFewWorkersAndOnlyZeroSpeedsAsNoWorkerWithRows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new UncodedAssignment([]));
        var zeros = Assert.Throws<ArgumentException>(() => new UncodedAssignment([0.0, 0.0]));
        Assert.Contains("at least one > 0 (got 0:0)", zeros.Message);
    }
}
