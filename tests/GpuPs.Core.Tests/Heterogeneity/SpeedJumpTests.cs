using GpuPs.Core.Heterogeneity;

namespace GpuPs.Core.Tests.Heterogeneity;

public class SpeedJumpTests
{
    private static readonly double[] Equal = [100, 100, 100];
    private static readonly bool[] All3 = [true, true, true];

    private static (int Worker, double Speed, double Change, double Threshold)? Find(double[] worker0Reports, bool[]? judged = null, double othersSpread = 0) =>
        SpeedJump.Find(Equal, Equal, [worker0Reports, [100, 100, 100], [100, 100, 100]], judged ?? All3, [0.9, othersSpread, othersSpread], 5, 0.25);

    [Fact]
    public void Three_reports_past_the_threshold_the_same_way_name_the_worker_at_their_median()
    {
        var jump = Find([30, 20, 25]);

        Assert.NotNull(jump);
        Assert.Equal(0, jump.Value.Worker);
        Assert.Equal(25, jump.Value.Speed);
        Assert.Equal(25.0 / 225 * 3 - 1, jump.Value.Change, 1e-12);   // its share 1/9 against 1/3
        Assert.Equal(0.25, jump.Value.Threshold);                          // its own spread (0.9) is not the noise
    }

    [Fact]
    public void The_other_workers_noise_raises_the_threshold()
    {
        // A 4× drop moves worker 0's share by 67 %: past 3 standard errors of σ = 0.15 (52 %), not of σ = 0.2 (69 %).
        Assert.NotNull(Find([25, 25, 25], othersSpread: 0.15));
        Assert.Null(Find([25, 25, 25], othersSpread: 0.2));
    }

    [Theory]
    [InlineData(new double[] { 100, 25, 25 })]   // two slow reports: a burst, not yet a change
    [InlineData(new double[] { 25, 25 })]        // fewer reports than SpeedJump.Reports
    [InlineData(new double[] { 25, 400, 25 })]   // past the threshold, but not the same way
    [InlineData(new double[] { 25, 80, 25 })]    // one report within the threshold (a 14 % share change)
    public void Anything_less_than_three_consistent_reports_is_no_jump(double[] reports)
    {
        Assert.Null(Find(reports));
    }

    [Fact]
    public void A_worker_not_judged_is_never_named()
    {
        Assert.Null(Find([25, 25, 25], [false, true, true]));
    }

    [Fact]
    public void A_single_reports_noise_threshold_is_three_standard_errors_of_a_report_less_a_median_of_five()
    {
        Assert.Equal(3 * 0.115 * Math.Sqrt(1 + Math.PI / 10), SpeedJump.NoiseThreshold([0.1, 0.115, 0.5], 5), 1e-12);
        Assert.Equal(3 * 0.11 * Math.Sqrt(1 + Math.PI / 10), SpeedJump.NoiseThreshold([0.1, 0.12], 5), 1e-12);
    }
}
