using System.Globalization;
using GpuPs.Core.Coding;
using GpuPs.Core.Tests.Coding;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;

namespace GpuPs.Core.Tests.Heterogeneity;

public class OptimalHeterogeneousCodeTests
{
    /// <summary>Odd cycles (1:1:2:3, a ramp, equal odd n, uneven reals), bipartite layouts (1:2:4 capped, the 10-worker mix, equal even n).</summary>
    public static TheoryData<string> Mixes() =>
    [
        "1,1,2,3", "1,2,3,4,5", "1,1,1", "1,1,1,1,1", "0.3,7,2.2,1,1,9,4,2", "1,2,4", "1,1,2,2,2,4,4,8,8,8", "3,3,3,3", "5,1,1,1,1,1",
        "1,2", "2,3,5,7,11,13,17,19,23",
    ];

    /// <summary>Seeded random speed vectors, n = 2 … 10, speeds 0.1 … 10: the construction must never need the fallback.</summary>
    public static TheoryData<string> RandomMixes()
    {
        var rng = new Random(20261126);
        var data = new TheoryData<string>();
        for (int t = 0; t < 40; t++)
        {
            int n = 2 + t % 9;
            data.Add(string.Join(",", Enumerable.Range(0, n).Select(_ => (0.1 + 9.9 * rng.NextDouble()).ToString("R", CultureInfo.InvariantCulture))));
        }
        return data;
    }

    private static double[] Speeds(string list) => list.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    [Theory]
    [MemberData(nameof(Mixes))]
    [MemberData(nameof(RandomMixes))]
    public void EveryPieceIsHeldByTwoWorkersAndEachLoadIsItsOptimalShare(string speedList)
    {
        var speeds = Speeds(speedList);
        var code = new OptimalHeterogeneousCode(speeds, 1);
        double t = OptimalHeterogeneousCode.TimeBound(speeds, 1);

        for (int j = 0; j < code.Partitions; j++)
            Assert.Equal(2, Enumerable.Range(0, code.Workers).Count(i => code.IsAssigned(i, j)));
        double total = code.PartitionWeights.Sum();
        for (int i = 0; i < code.Workers; i++)
        {
            double load = code.PartitionsOf(i).Sum(j => code.PartitionWeights[j]) / total;
            Assert.Equal(Math.Min(1, speeds[i] * t), load, 9);   // every worker finishes at T*
            Assert.Equal(load, code.Loads[i], 9);
        }
        Assert.Equal(2, code.Loads.Sum(), 9);
    }

    [Fact]
    public void TheBoundCapsAWorkerThatCouldHoldMoreThanTheWholeData()
    {
        Assert.Equal(2.0 / 7, OptimalHeterogeneousCode.TimeBound([1, 1, 2, 3], 1), 12);   // uncapped: (s + 1) / Σ c
        Assert.Equal(1.0 / 3, OptimalHeterogeneousCode.TimeBound([1, 2, 4], 1), 12);      // 4 holds everything once; 1 + 2 cover it again
        Assert.Equal(1.0, OptimalHeterogeneousCode.TimeBound([1, 5], 1), 12);            // n = s + 1: both hold everything
        Assert.Equal(3.0 / 18, OptimalHeterogeneousCode.TimeBound([3, 3, 3, 3, 3, 3], 2), 12);
        Assert.Equal(1.0 / 3, OptimalHeterogeneousCode.TimeBound([1, 2], 0), 12);       // s = 0: each row once
        Assert.Contains("s + 1 = 3", Assert.Throws<ArgumentException>(() => OptimalHeterogeneousCode.TimeBound([1, 2], 2)).Message);
        Assert.Contains("speeds must be finite and > 0", Assert.Throws<ArgumentException>(() => OptimalHeterogeneousCode.TimeBound([1, double.NaN], 1)).Message);
    }

    /// <summary>n = s + 1: every worker holds all the data, so the slowest sets the bound, also where rounding caps every worker at once.</summary>
    [Theory]
    [InlineData(3, 1.0, 1.0)]
    [InlineData(3, 4.64, 19.9)]       // 3 / Σ, then 1 / 4.64 · 4.64 > 1 in doubles: all four capped
    [InlineData(5, 6.52, 6.52)]       // 6 / 39.12 · 6.52 > 1: all six capped in the first round
    public void WhenEveryWorkerMustHoldAllTheDataTheSlowestSetsTheBound(int slowWorkers, double slow, double fast)
    {
        double[] speeds = [.. Enumerable.Repeat(slow, slowWorkers), fast];

        Assert.Equal(1 / slow, OptimalHeterogeneousCode.TimeBound(speeds, speeds.Length - 1), 12);
    }

    [Fact]
    public void OneOneTwoThreeBeatsTheGroupsWhichCannotBalance()
    {
        double[] speeds = [1, 1, 2, 3];
        var optimal = new OptimalHeterogeneousCode(speeds, 1);
        var groups = new HeterogeneousRepetitionCode(speeds, 1);

        // The worst step of each: the slowest worker's load over its speed (groups: the slower group waits for all its members).
        double Worst(IGradientCode code) => Enumerable.Range(0, 4).Max(i => code.PartitionsOf(i).Sum(j => code.PartitionWeights[j]) / code.PartitionWeights.Sum() / speeds[i]);
        Assert.Equal(2.0 / 7, Worst(optimal), 9);
        Assert.Equal(1.0 / 3, Worst(groups), 9);
        Assert.Contains("odd cycle", optimal.Construction);
    }

    /// <summary>Every one of the 2ⁿ responder sets: each set of n − 1 or more decodes, exactly in float32.</summary>
    [Theory]
    [MemberData(nameof(Mixes))]
    [MemberData(nameof(RandomMixes))]
    public void EveryResponderSetThatCanDecodeDoesExactlyInFloat32(string speedList)
    {
        var code = new OptimalHeterogeneousCode(Speeds(speedList), 1);

        ExhaustiveDecode.AssertExact(code, mask => ulong.PopCount(mask) >= (ulong)(code.Workers - 1));
    }

    [Theory]
    [MemberData(nameof(Mixes))]
    public void TheConditioningReportCoversEveryStragglerSetWithASmallConditionNumber(string speedList)
    {
        var code = new OptimalHeterogeneousCode(Speeds(speedList), 1);

        var report = CodeConditioning.Analyze(code, seed: 11);

        Assert.Equal(0, report.UndecodableSubsets);
        Assert.Equal(report.SubsetsTotal, report.SubsetsEvaluated);
        Assert.True(report.WorstFloat32RelativeError <= 1e-6, $"worst error {report.WorstFloat32RelativeError}");
        Assert.InRange(report.ConditionAtWorstSet, 1, 50);
        Assert.InRange(report.MaxAbsWeight, 0, 2);
    }

    [Fact]
    public void PartitionPlansGiveEachWorkerItsLoadOfTheRows()
    {
        double[] speeds = [1, 1, 2, 3];
        var code = new OptimalHeterogeneousCode(speeds, 1);
        const int rows = 70_000;

        var held = Enumerable.Range(0, 4).Select(i => new PartitionPlan(TestData.Indexed(rows), code, i, 0).Data.Rows).ToArray();

        for (int i = 0; i < 4; i++) Assert.InRange(held[i], rows * code.Loads[i] - code.Partitions, rows * code.Loads[i] + code.Partitions);
    }

    /// <summary>Every node lays the shares out alike: equal speeds go by worker id, so worker 0's share starts the data.</summary>
    [Fact]
    public void TiesInSpeedLayTheSharesOutByWorkerId()
    {
        var code = new OptimalHeterogeneousCode([1.0, 1, 1], 1);   // shares [0, 2/3), [2/3, 4/3), [4/3, 2): pieces of 1/3

        Assert.Equal(new[] { 0, 1 }, code.PartitionsOf(0));
        Assert.Equal(new[] { 0, 2 }, code.PartitionsOf(1));
        Assert.Equal(new[] { 1, 2 }, code.PartitionsOf(2));
    }

    [Fact]
    public void TheConstructionNamesTheLoadsTheSpeedsAndTheCoefficients()
    {
        Assert.Equal("loads 0.3333:0.6667:1 of the data for speeds 1:2:4, 0/1 coefficients (the holder graph is bipartite)",
            new OptimalHeterogeneousCode([1.0, 2, 4], 1).Construction);
        Assert.Equal("loads 0.2857:0.2857:0.5714:0.8571 of the data for speeds 1:1:2:3, an odd cycle of 3 workers with coefficients orthogonal to h = 2, -1, -1, ±1 on it",
            new OptimalHeterogeneousCode([1.0, 1, 2, 3], 1).Construction);
    }

    [Fact]
    public void TheCodeKeepsTheExhaustiveCheckItPassed()
    {
        var code = new OptimalHeterogeneousCode([1.0, 1, 2, 3], 1);

        Assert.Equal(0, code.Conditioning.UndecodableSubsets);
        Assert.Equal(4, code.Conditioning.SubsetsEvaluated);
        Assert.InRange(code.Conditioning.WorstFloat32RelativeError, 0, CodeConditioning.AcceptanceLimit);
    }

    [Fact]
    public void TooFewWorkersMissingSpeedsAndSpeedsThatAreNotFiniteAndPositiveAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OptimalHeterogeneousCode([5.0], 1));
        Assert.Throws<ArgumentNullException>(() => new OptimalHeterogeneousCode(null!, 1));
        Assert.Throws<ArgumentNullException>(() => OptimalHeterogeneousCode.TimeBound(null!, 1));
        Assert.Throws<ArgumentException>(() => OptimalHeterogeneousCode.TimeBound([1, 2], -1));
        Assert.Throws<ArgumentException>(() => OptimalHeterogeneousCode.TimeBound([1, 0], 1));
        Assert.Throws<ArgumentException>(() => OptimalHeterogeneousCode.TimeBound([1, double.PositiveInfinity], 1));
    }

    [Fact]
    public void OnlyOneStragglerIsBuiltAndTheFactoryNamesIt()
    {
        var e = Assert.Throws<ArgumentException>(() => new OptimalHeterogeneousCode([1, 2, 3, 4], 2));
        Assert.Contains("--code hetero", e.Message);
        Assert.Equal("stragglers", e.ParamName);

        var code = GradientCodeFactory.Create("hetero-optimal", 5, 1, [1, 2, 3, 4, 5]);
        Assert.IsType<OptimalHeterogeneousCode>(code);
        Assert.IsType<OptimalHeterogeneousCode>(GradientCodeFactory.Create("HETERO-OPTIMAL", 3, 1));
        Assert.Throws<ArgumentException>(() => GradientCodeFactory.Create("hetero-optimal", 4, 2));
    }
}
