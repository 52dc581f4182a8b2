using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;
using GpuPs.Tests.Shared;
using Serilog.Events;

namespace GpuPs.Core.Tests.Heterogeneity;

public class WorkerSpeedsTests
{
    [Fact]
    public void BelievableSpeedsAreKeptAndNothingIsLogged()
    {
        var log = new CapturedLog();

        var speeds = WorkerSpeeds.Clamp([120.0, 240.0, 480.0], log.Logger);

        Assert.Equal(new[] { 120.0, 240.0, 480.0 }, speeds);
        Assert.Empty(log.Events);
    }

    [Fact]
    public void ReportsThatSayNothingTakeTheMedianOfTheBelievableOnesAndAreLoggedByWorker()
    {
        var log = new CapturedLog();

        var speeds = WorkerSpeeds.Clamp([300.0, 0.0, -5.0, double.NaN, double.PositiveInfinity, 1e300, 600.0], log.Logger);

        Assert.Equal(new[] { 300.0, 450.0, 450.0, 450.0, 450.0, 450.0, 600.0 }, speeds);
        var warned = log.Events.Where(e => e.Level == LogEventLevel.Warning).Select(e => (int)CapturedLog.Property(e, "WorkerId")!);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, warned);
    }

    [Fact]
    public void AnAbsurdlyFastReportIsCappedSoTheOthersStillGetData()
    {
        var log = new CapturedLog();

        var speeds = WorkerSpeeds.Clamp([10.0, 10.0, 10.0, 1e9], log.Logger);

        Assert.Equal(10 * WorkerSpeeds.MaxRatio, speeds[3]);
        var plan = new PartitionPlan(TestData.Indexed(10_000), new UncodedAssignment(speeds), 0, batchSize: 0);
        Assert.True(plan.Data.Rows >= 10_000 / (3 + WorkerSpeeds.MaxRatio) - 1, $"worker 0 got {plan.Data.Rows} rows");
        Assert.Equal(3, CapturedLog.Property(Assert.Single(log.Events), "WorkerId"));
    }

    [Fact]
    public void AnAbsurdlySlowReportIsRaisedSoThatWorkerIsNotStarved()
    {
        var speeds = WorkerSpeeds.Clamp([1e6, 1e6, 1e6, 1e-3], new CapturedLog().Logger);

        Assert.Equal(1e6 / WorkerSpeeds.MaxRatio, speeds[3]);
        var plan = new PartitionPlan(TestData.Indexed(100_000), new UncodedAssignment(speeds), 3, batchSize: 0);
        // Its share: 1 part in 3·MaxRatio + 1.
        int share = (int)(100_000 / (3 * WorkerSpeeds.MaxRatio + 1));
        Assert.InRange(plan.Data.Rows, share - 1, share + 1);
    }

    [Fact]
    public void WithNoBelievableReportEveryWorkerGetsTheSameSpeed()
    {
        var speeds = WorkerSpeeds.Clamp([0.0, double.NaN, -1.0], new CapturedLog().Logger);

        Assert.Equal(new[] { 1.0, 1.0, 1.0 }, speeds);
    }

    [Fact]
    public void NoSpeedsIsAnError() =>
        Assert.Throws<ArgumentException>(() => WorkerSpeeds.Clamp([], new CapturedLog().Logger));

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    public void AssignmentsRefuseUnclampedSpeedsByName(double bad)
    {
        var e2 = Assert.Throws<ArgumentException>(() => new HeterogeneousRepetitionCode([1.0, bad, 2.0], 1));
        Assert.Contains("worker 1", e2.Message);
        if (bad == 0) return;   // a zero share of the uncoded assignment (ZeroSharesTests)
        var e1 = Assert.Throws<ArgumentException>(() => new UncodedAssignment([1.0, bad]));
        Assert.Contains("speeds must be finite", e1.Message);
    }
}
