using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// Proportional shares do not oscillate: scripted speeds, one report per worker per step, the coordinator's own step
/// clock. Noise alone never rebalances, nor do two-step bursts; a real 4× drop does within 3 steps (its third slow
/// report, <see cref="SpeedJump"/>), a worker at a tiny share whose few rows' time is all noise moves nothing, and
/// reports measured on the previous version's rows are not a drift.
/// </summary>
public class RebalanceStabilityTests
{
    private static AssignmentCoordinator Started(int workers, double[] speeds, int seed = 0, long steps = 10_000)
    {
        var job = ShardFixture.Job(SyncMode.Bsp, workers, steps: steps) with { Assignment = AssignmentPolicy.ProportionalAll };
        var c = new AssignmentCoordinator(job, new CapturedLog().Logger);
        for (int i = 0; i < workers; i++) c.Report(i, speeds[i], 0, 0);
        return c;
    }

    /// <summary>Runs steps <paramref name="from"/>..<paramref name="to"/> (exclusive); returns the steps a new version starts at.</summary>
    private static List<long> Run(AssignmentCoordinator c, long from, long to, Func<int, long, double> speed, int workers)
    {
        var published = new List<long>();
        for (long step = from; step < to; step++)
        {
            for (int i = 0; i < workers; i++) c.Report(i, speed(i, step), 0, step);
            if (c.OnStepClosed(step + 1) is not null) published.Add(step + 1);
        }
        return published;
    }

    /// <summary>The noise seeds every noisy case runs with.</summary>
    public static TheoryData<int> Seeds => [1, 2, 3, 4, 5, 6];

    /// <summary>A report's factor: ±20 % at random around 1 (twice this machine's loaded step noise).</summary>
    private static double Jitter(Random noise) => 1 + noise.NextDouble() * 0.4 - 0.2;

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Noisy_equal_speeds_never_rebalance(int seed)
    {
        // Every report ±20% at random around the same speed (twice this machine's loaded step noise).
        var noise = new Random(seed);
        var c = Started(4, [100, 100, 100, 100]);

        var published = Run(c, 1, 400, (_, _) => 100 * Jitter(noise), 4);

        Assert.Empty(published);
        Assert.Equal(1, c.Current!.Version);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Two_step_bursts_in_that_noise_never_rebalance(int seed)
    {
        // ±10 % noise, and every 10 steps worker 0 runs two steps at 1/2.2 speed (the smallest cgroup quota's bursts
        // under load, docs/benchmarks.md): each burst report moves its share by 47 %, past the threshold, but never three
        // in a row (SpeedJump.Reports), and two of five never move a median.
        var noise = new Random(seed);
        var c = Started(4, [100, 100, 100, 100]);

        var published = Run(c, 1, 400, (i, step) => (i == 0 && step % 10 is 5 or 6 ? 100 / 2.2 : 100) * (1 + noise.NextDouble() * 0.2 - 0.1), 4);

        Assert.Empty(published);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_real_quarter_speed_drop_in_that_noise_is_rebalanced_on_its_third_slow_report(int seed)
    {
        var noise = new Random(seed);
        var c = Started(4, [100, 100, 100, 100]);
        Assert.Empty(Run(c, 1, 100, (_, _) => 100 * Jitter(noise), 4));

        var published = Run(c, 100, 140, (i, step) => (i == 0 && step >= 100 ? 25 : 100) * Jitter(noise), 4);

        // Steps 100-102 report slow when they close; the median's rule alone (ShareDrift) publishes from step 105.
        Assert.NotEmpty(published);
        Assert.Equal(103, published[0]);
        Assert.Equal([0L, .. published], c.FromSteps);
        // And it settles: with medians of three and no noise threshold, 2 seeds of 6 rebalanced again on the noise. The
        // drop's version is set from five reports; at most one more, from the steps computed with it (ShareOffset), may
        // refine it, and no earlier than its first look.
        Assert.True(published.Count == 1 || published.Count == 2 && published[1] - published[0] >= ShareOffset.MinSteps,
            $"versions from steps {string.Join(", ", published)}, speeds {string.Join(", ", c.Current!.Speeds)}");
        var shares = c.Current!.Speeds.Select(v => v / c.Current.Speeds.Sum()).ToArray();
        Assert.InRange(shares[0] / (25.0 / 325), 0.8, 1.2);
    }

    [Fact]
    public void A_jumps_version_is_checked_once_on_its_own_rows_and_corrected()
    {
        // The three reports the jump took said 25; on version 2's rows worker 0 runs at 29: its share 15 % off, under the
        // 25 % drift threshold. Five reports on those rows (steps 105-109) are in when step 109 closes: version 3 from 110.
        var c = Started(4, [100, 100, 100, 100]);
        Assert.Empty(Run(c, 1, 100, (_, _) => 100, 4));

        var published = Run(c, 100, 140, (i, step) => i == 0 ? step < 105 ? 25 : 29 : 100, 4);

        Assert.Equal([103L, 110L], published);
        Assert.Equal(29, c.Current!.Speeds[0]);
    }

    [Fact]
    public void A_share_off_by_less_than_the_drift_threshold_every_step_is_corrected_from_the_steps_computed_with_it()
    {
        // The probes said equal speeds; worker 2 is 15 % slower, every report ±10 %: a 10 % share change, below the 25 %
        // drift threshold and the probe check's noise threshold, found by the look at 20 steps.
        var noise = new Random(5);
        var c = Started(3, [100, 100, 100]);

        var published = Run(c, 1, 60, (i, _) => (i == 2 ? 85 : 100) * (1 + noise.NextDouble() * 0.2 - 0.1), 3);

        Assert.Single(published);
        Assert.InRange(published[0], 20, 35);
        Assert.InRange(c.Current!.Speeds[2] / c.Current.Speeds[0], 0.8, 0.9);
    }

    [Theory]
    [InlineData(25, false)]   // the jump is seen at step 23: 69 % of a step saved for 2 steps, against a cost of 2 steps
    [InlineData(40, true)]
    [InlineData(200, true)]
    public void A_rebalance_that_cannot_pay_for_itself_before_the_job_ends_is_not_made(long steps, bool rebalanced)
    {
        var c = Started(4, [100, 100, 100, 100], steps: steps);
        Assert.Empty(Run(c, 1, 20, (_, _) => 100, 4));

        var published = Run(c, 20, steps - 1, (i, step) => i == 0 && step >= 20 ? 25 : 100, 4);

        Assert.Equal(rebalanced, published.Count > 0);
    }

    [Fact]
    public void A_tiny_share_whose_few_rows_time_is_all_noise_moves_nothing()
    {
        // The ILGPU CPU worker beside three SIMD workers, loaded: a few rows a step, its measured speed 190-710 rows/s
        // from one step to the next against ~190,000 for the others.
        var noise = new Random(7);
        var c = Started(4, [400, 190_000, 190_000, 190_000]);

        var published = Run(c, 1, 200, (i, _) => i == 0 ? 190 + noise.NextDouble() * 520 : 190_000 * (1 + noise.NextDouble() * 0.1 - 0.05), 4);

        Assert.Empty(published);
    }

    [Theory]
    [InlineData(90, true)]    // a share 7% off: replaced, though far from a 25% drift
    [InlineData(97, false)]   // 2% off: kept
    public void The_probes_version_is_replaced_by_the_steps_speeds_past_five_percent(double slow, bool replaced)
    {
        var c = Started(3, [100, 100, 100]);

        var published = Run(c, 1, 30, (i, _) => i == 0 ? slow : 100, 3);

        Assert.Equal(replaced ? [7L] : [], published);
    }

    [Fact]
    public void Reports_measured_on_the_previous_versions_rows_are_no_drift()
    {
        var c = Started(3, [100, 100, 100]);
        // The probes were off: five step reports (steps 2-6) in when step 6 closes, version 2 from step 7.
        Assert.Equal([7L], Run(c, 1, 7, (i, _) => i == 0 ? 50 : 100, 3));
        Assert.Equal(new[] { 50.0, 100, 100 }, c.Current!.Speeds);

        // Worker 0 is back at full speed on version 2's rows, but its reports at steps 7 and 8 measured steps 6 and 7
        // (version 1, and the first step on version 2's rows): they say 50 and count for nothing. Three reports from
        // step 9, each doubling its share, are in when step 11 closes: version 3 from step 12 (SpeedJump).
        var published = Run(c, 7, 40, (i, step) => i == 0 && step < 9 ? 50 : 100, 3);

        Assert.Equal([12L], published);
    }
}
