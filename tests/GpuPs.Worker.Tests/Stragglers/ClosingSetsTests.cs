using GpuPs.Core.Coding;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>
/// The first-decodable-set bound: a coded step closes on the first responder set its code decodes, so where the
/// stragglers sit decides the bound — against exact values, and against the same rule applied to the injector's draws.
/// </summary>
public class ClosingSetsTests
{
    private const int N = 8;

    [Fact]
    public void Fractional_with_stragglers_in_distinct_groups_closes_at_the_fast_time_and_in_one_group_at_the_slow_time()
    {
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("fractional", N, 1)); // groups {0,1} {2,3} {4,5} {6,7}
        const double fast = 2 * 0.02; // load 2 × unit

        var distinct = StragglerInjector.Parse("persistent:workers=2+5,delay=0.5,unit=0.02", N, seed: 1);
        var sameGroup = StragglerInjector.Parse("persistent:workers=2+3,delay=0.5,unit=0.02", N, seed: 1);

        Assert.Equal(fast, OrderStatisticBound.ExpectedClose(distinct, closing, load: 2, computePerPartition: 0), 12);
        Assert.Equal(fast + 0.5, OrderStatisticBound.ExpectedClose(sameGroup, closing, load: 2, computePerPartition: 0), 12);
        // Waiting for n − s = 7 responders would have waited for one of the two slow workers.
        Assert.Equal(fast + 0.5, OrderStatisticBound.ExpectedKthFastest(distinct, N, k: 7, load: 2, computePerPartition: 0), 12);
    }

    [Fact]
    public void Fractional_first_decodable_set_is_one_responder_per_group()
    {
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("fractional", N, 1));

        Assert.True(closing.Closes(0b0101_0101)); // workers 0, 2, 4, 6: one per group, 4 < n − s = 7
        Assert.False(closing.Closes(0b1111_1100)); // six workers, but group {0,1} missing
        Assert.Equal(3.0, closing.CloseTime([1, 9, 9, 2, 3, 9, 9, 0.5]));
        // f_4: of the 70 four-worker sets, 2^4 = 16 hold one worker per group.
        Assert.Equal(1 - 16.0 / 70, closing.NotClosingFraction![4], 12);
        Assert.Equal(0, closing.NotClosingFraction[7]);
    }

    [Theory]
    [InlineData(1, 0.05, 20)]
    [InlineData(3, 0.01, 5)]
    public void Fractional_shifted_exponential_is_the_max_over_groups_of_the_group_minimum(int s, double shift, double rate)
    {
        var model = StragglerInjector.Parse($"shifted-exponential:shift={shift},rate={rate},unit=0.02", N, seed: 3);
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("fractional", N, s));
        int groups = N / (s + 1), load = s + 1;

        // A group's minimum is Exp((s+1)·rate); the maximum of G of those is H_G / ((s+1)·rate).
        double harmonic = Enumerable.Range(1, groups).Sum(j => 1.0 / j);
        double exact = load * 0.02 + shift + harmonic / ((s + 1) * rate);
        Assert.Equal(exact, OrderStatisticBound.ExpectedClose(model, closing, load, computePerPartition: 0), 12);
        Assert.InRange(OnDraws(model, closing, load), exact * 0.98, exact * 1.02);
    }

    [Fact]
    public void Fractional_bimodal_is_delayed_when_some_group_is_all_slow()
    {
        const double p = 0.3;
        var model = StragglerInjector.Parse($"bimodal:p={p},delay=0.5", N, seed: 3);
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("fractional", N, 1));

        double exact = 0.5 * (1 - Math.Pow(1 - p * p, N / 2));
        Assert.Equal(exact, OrderStatisticBound.ExpectedClose(model, closing, load: 2, computePerPartition: 0), 12);
        Assert.InRange(OnDraws(model, closing, load: 2), exact * 0.95, exact * 1.05);
    }

    [Theory]
    [InlineData("shifted-exponential:shift=0.01,rate=5", 7, 2)]
    [InlineData("shifted-exponential:shift=0.01,rate=5", 8, 3)]
    [InlineData("bimodal:p=0.2,delay=0.5", 8, 1)]
    public void Cyclic_bound_matches_its_draws_and_never_exceeds_the_n_minus_s_order_statistic(string spec, int n, int s)
    {
        var model = StragglerInjector.Parse(spec, n, seed: 5);
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("cyclic", n, s));

        double bound = OrderStatisticBound.ExpectedClose(model, closing, s + 1, computePerPartition: 0.001);
        Assert.All(closing.NotClosingFraction!.Skip(n - s), f => Assert.Equal(0, f)); // every n − s set decodes
        Assert.True(bound <= OrderStatisticBound.ExpectedKthFastest(model, n, n - s, s + 1, 0.001) + 1e-12);
        Assert.InRange(OnDraws(model, closing, s + 1, computePerPartition: 0.001), bound * 0.97, bound * 1.03);
    }

    [Fact]
    public void Fastest_k_is_the_kth_order_statistic()
    {
        var closing = ClosingSets.FastestK(5, 3);

        Assert.Equal(4.0, closing.CloseTime([5, 1, 4, 2, 9]));
        Assert.True(closing.Closes(0b10101));
        Assert.False(closing.Closes(0b00011));
        Assert.Equal([1, 1, 1, 0, 0, 0], closing.NotClosingFraction!);
    }

    [Fact]
    public void Large_codes_have_no_enumerated_profile_and_random_models_then_need_draws()
    {
        var closing = ClosingSets.Decodable(GradientCodeFactory.Create("fractional", 16, 1));
        var model = StragglerInjector.Parse("bimodal", 16, seed: 1);

        Assert.Null(closing.NotClosingFraction);
        Assert.Throws<InvalidOperationException>(() => OrderStatisticBound.ExpectedClose(model, closing, 2, 0));
        // Deterministic models need no profile.
        var persistent = StragglerInjector.Parse("persistent:workers=2+5,delay=0.5,unit=0.01", 16, seed: 1);
        Assert.Equal(0.02, OrderStatisticBound.ExpectedClose(persistent, closing, 2, 0), 12);
    }

    /// <summary>The mean close time over 20,000 steps of the injector's draws.</summary>
    private static double OnDraws(StragglerInjector model, ClosingSets closing, int load, double computePerPartition = 0)
    {
        const int steps = 20_000;
        var finish = new double[closing.Workers];
        double sum = 0;
        for (int t = 0; t < steps; t++)
        {
            for (int i = 0; i < finish.Length; i++)
                finish[i] = model.ModelledStepSeconds(i, t, load, computePerPartition);
            sum += closing.CloseTime(finish);
        }
        return sum / steps;
    }
}
