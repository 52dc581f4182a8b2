using GpuPs.Core.Coding;
using GpuPs.Core.Tests.Coding;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;

namespace GpuPs.Core.Tests.Heterogeneity;

public class HeterogeneousRepetitionCodeTests
{
    /// <summary>Speed mixes × every s the code supports up to 3: 1 : 2 : 4, equal, a ramp, one fast worker, uneven reals, a 10-worker mix.</summary>
    public static IEnumerable<object[]> Cases() =>
        from speeds in new[]
        {
            "1,2,4", "1,1,1,1", "1,2,3,4,5,6", "5,1,1,1,1,1", "0.3,7,2.2,1,1,9,4,2", "1,1,2,2,2,4,4,4,8,8", "3,3,3,3,3,3,3,3,3",
        }
        let n = speeds.Split(',').Length
        from s in Enumerable.Range(0, Math.Min(n, 4))
        select new object[] { speeds, s };

    private static double[] Speeds(string list) => list.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryPartitionIsHeldOnceInEveryGroupSoAnySStragglersLeaveItCovered(string speedList, int s)
    {
        var code = new HeterogeneousRepetitionCode(Speeds(speedList), s);

        Assert.InRange(code.Partitions, 1, code.Workers - s);
        Assert.Equal(Enumerable.Range(0, s + 1), code.GroupOf.Distinct().Order());
        for (int j = 0; j < code.Partitions; j++)
        {
            var holders = Enumerable.Range(0, code.Workers).Where(i => code.IsAssigned(i, j)).ToArray();
            Assert.Equal(s + 1, holders.Length);
            Assert.Equal(s + 1, holders.Select(i => code.GroupOf[i]).Distinct().Count());
            Assert.All(holders, i => Assert.Equal(1.0, code[i, j]));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachWorkersRowsAreProportionalToItsSpeedWithinBalancedGroups(string speedList, int s)
    {
        var speeds = Speeds(speedList);
        var code = new HeterogeneousRepetitionCode(speeds, s);
        const int rows = 100_000;

        var held = Enumerable.Range(0, code.Workers).Select(i => new PartitionPlan(TestData.Indexed(rows), code, i, 0).Data.Rows).ToArray();

        var groupSpeed = Enumerable.Range(0, s + 1).Select(g => Enumerable.Range(0, speeds.Length).Where(i => code.GroupOf[i] == g).Sum(i => speeds[i])).ToArray();
        for (int i = 0; i < speeds.Length; i++)
        {
            double share = rows * speeds[i] / groupSpeed[code.GroupOf[i]];
            Assert.InRange(held[i], share - code.Partitions, share + code.Partitions);   // each piece is off by < 1 row
        }
        // Longest-processing-time balance: no two groups differ by more than the fastest worker's speed.
        Assert.True(groupSpeed.Max() - groupSpeed.Min() <= speeds.Max() + 1e-9, $"group speeds {string.Join(", ", groupSpeed)}");
    }

    [Fact]
    public void OneTwoFourWithOneStragglerGroupsTheFastWorkerAloneAgainstTheOtherTwo()
    {
        var code = new HeterogeneousRepetitionCode([1.0, 2.0, 4.0], 1);

        Assert.Equal(new[] { 1, 1, 0 }, code.GroupOf);
        Assert.Equal(2, code.Partitions);
        Assert.Equal(1.0 / 3, code.PartitionWeights[0], 12);
        Assert.Equal(new[] { 0 }, code.PartitionsOf(0));
        Assert.Equal(new[] { 1 }, code.PartitionsOf(1));
        Assert.Equal(new[] { 0, 1 }, code.PartitionsOf(2));
    }

    /// <summary>Every one of the 2ⁿ responder sets: a set holding a whole group or n − s workers must decode, exactly.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryResponderSetThatCanDecodeDoesExactlyInFloat32(string speedList, int s)
    {
        var code = new HeterogeneousRepetitionCode(Speeds(speedList), s);
        int n = code.Workers;

        ExhaustiveDecode.AssertExact(code, mask =>
            ulong.PopCount(mask) >= (ulong)(n - s)
            || Enumerable.Range(0, s + 1).Any(g => Enumerable.Range(0, n).Where(i => code.GroupOf[i] == g).All(i => (mask >> i & 1) != 0)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheConditioningReportCoversEveryStragglerSetAndFindsTheFloat32Floor(string speedList, int s)
    {
        var code = new HeterogeneousRepetitionCode(Speeds(speedList), s);

        var report = CodeConditioning.Analyze(code, seed: 42);

        Assert.Equal(0, report.UndecodableSubsets);
        Assert.Equal(report.SubsetsTotal, report.SubsetsEvaluated);
        Assert.True(report.WorstFloat32RelativeError <= CodeConditioning.AcceptanceLimit, $"worst error {report.WorstFloat32RelativeError}");
    }

    /// <summary>Every node builds the same groups: ties in speed go by worker id, ties in group speed to the lowest group.</summary>
    [Fact]
    public void TiesGoToTheLowerWorkerIdAndTheLowerGroup()
    {
        Assert.Equal(new[] { 0, 1, 0, 1 }, new HeterogeneousRepetitionCode([1.0, 1, 1, 1], 1).GroupOf);
        Assert.Equal(new[] { 0, 0, 1, 1 }, new HeterogeneousRepetitionCode([2.0, 1, 1, 2], 1).GroupOf);
    }

    [Fact]
    public void TheConstructionNamesTheGroupsAndTheSpeedsToFourSignificantDigits()
    {
        var code = new HeterogeneousRepetitionCode([1.0, 2.5, 1234567], 1);

        Assert.Equal("2 groups of about equal speed, shares in proportion to speeds 1:2.5:1.235E+06", code.Construction);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void ASpeedThatIsNotFiniteAndPositiveIsRefusedNamingTheWorker(double speed)
    {
        var e = Assert.Throws<ArgumentException>(() => new HeterogeneousRepetitionCode([1.0, speed, 2.0], 1));

        Assert.Contains("worker 1", e.Message);
    }

    [Fact]
    public void ImpossibleStragglerCountsAndMissingSpeedsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HeterogeneousRepetitionCode([1.0, 2.0], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HeterogeneousRepetitionCode([1.0, 2.0], 2));
        Assert.Throws<ArgumentNullException>(() => new HeterogeneousRepetitionCode(null!, 0));
    }

    [Fact]
    public void TheFactoryBuildsItByNameWithEqualSpeedsWhenNoneAreGiven()
    {
        var code = GradientCodeFactory.Create("hetero", 6, 2);

        Assert.IsType<HeterogeneousRepetitionCode>(code);
        Assert.Equal("hetero", code.Name);   // the name it is built by, as descriptions and logs give it
        Assert.Equal(2, code.Partitions);   // equal speeds, (s + 1) | n: three groups of two, halves of the data
        Assert.All(Enumerable.Range(0, 6), i => Assert.Single(code.PartitionsOf(i)));
    }
}
