using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>E[T_(k)] against exact values and against a Monte-Carlo run of the injector's own draws.</summary>
public class OrderStatisticBoundTests
{
    private const double H8 = 761.0 / 280; // Σ_{j=1}^{8} 1/j ≈ 2.72

    [Fact]
    public void Papers_example_uncoded_wait_for_all_versus_coded_s2_wait_for_six()
    {
        var exp1 = StragglerInjector.Parse("shifted-exponential:shift=0,rate=1", workers: 8, seed: 1);

        // Uncoded: 1 partition each, wait for all 8: 1 + H_8.
        Assert.Equal(1 + H8, OrderStatisticBound.ExpectedKthFastest(exp1, n: 8, k: 8, load: 1, computePerPartition: 1), 12);
        // Coded, s = 2: 3 partitions each, wait for 6: 3 + Σ_{j=3}^{8} 1/j = 3 + (H_8 − 1 − 1/2) ≈ 3 + 1.22.
        Assert.Equal(3 + (H8 - 1.5), OrderStatisticBound.ExpectedKthFastest(exp1, n: 8, k: 6, load: 3, computePerPartition: 1), 12);
    }

    [Fact]
    public void Deterministic_models_give_the_base_or_the_slowed_base()
    {
        const int n = 8;
        var none = StragglerInjector.Parse("none:unit=0.5", n, seed: 1);
        var persistent = StragglerInjector.Parse("persistent:count=2,factor=10,unit=0.5", n, seed: 1);
        var throttle = StragglerInjector.Parse("throttle:count=2,factor=4,unit=0.5", n, seed: 1);
        const double baseTime = 3 * (0.5 + 0.25);

        Assert.Equal(baseTime, OrderStatisticBound.ExpectedKthFastest(none, n, k: 8, load: 3, computePerPartition: 0.25), 12);
        Assert.Equal(3 * 0.25, OrderStatisticBound.ExpectedKthFastest(StragglerInjector.None, n, k: 1, load: 3, computePerPartition: 0.25), 12);
        Assert.Equal(baseTime, OrderStatisticBound.ExpectedKthFastest(persistent, n, k: 6, load: 3, computePerPartition: 0.25), 12);
        Assert.Equal(10 * baseTime, OrderStatisticBound.ExpectedKthFastest(persistent, n, k: 7, load: 3, computePerPartition: 0.25), 12);
        Assert.Equal(baseTime, OrderStatisticBound.ExpectedKthFastest(throttle, n, k: 6, load: 3, computePerPartition: 0.25), 12);
        Assert.Equal(3 * (0.5 + 4 * 0.25), OrderStatisticBound.ExpectedKthFastest(throttle, n, k: 8, load: 3, computePerPartition: 0.25), 12);
    }

    [Fact]
    public void Bimodal_is_exact_binomial()
    {
        var bimodal = StragglerInjector.Parse("bimodal:p=0.1,delay=0.5", workers: 8, seed: 1);

        // Wait for all 8: delayed unless all are fast, P = 1 − 0.9^8.
        Assert.Equal(0.5 * (1 - Math.Pow(0.9, 8)), OrderStatisticBound.ExpectedKthFastest(bimodal, 8, 8, 1, 0), 12);
        // Wait for the fastest: delayed only if all 8 are slow.
        Assert.Equal(0.5 * Math.Pow(0.1, 8), OrderStatisticBound.ExpectedKthFastest(bimodal, 8, 1, 1, 0), 15);
        // Degenerate probabilities, and a cluster large enough that 0.9^n underflows a double.
        Assert.Equal(0.5, OrderStatisticBound.ExpectedKthFastest(StragglerInjector.Parse("bimodal:p=1", 8, 1), 8, 1, 1, 0), 12);
        Assert.Equal(0, OrderStatisticBound.ExpectedKthFastest(StragglerInjector.Parse("bimodal:p=0", 8, 1), 8, 8, 1, 0), 12);
        Assert.Equal(0.25, OrderStatisticBound.ExpectedKthFastest(StragglerInjector.Parse("bimodal:p=0.5", 8, 1), 8_000, 4_000, 1, 0), 2);
    }

    [Theory]
    [InlineData("shifted-exponential:shift=0.05,rate=20", 8, 8, 1)]
    [InlineData("shifted-exponential:shift=0.05,rate=20", 8, 6, 3)]
    [InlineData("shifted-exponential:shift=0,rate=1", 8, 1, 1)]
    [InlineData("bimodal:p=0.3,delay=0.5", 8, 6, 3)]
    [InlineData("bimodal:p=0.1,delay=0.5", 8, 8, 1)]
    public void Matches_the_simulated_mean_of_the_kth_order_statistic(string spec, int n, int k, int load)
    {
        const int steps = 20_000;
        const double compute = 0.01;
        var injector = StragglerInjector.Parse(spec, n, seed: 11);
        var delays = StragglerInjectorTests.Draws(injector, n, steps);
        double baseTime = load * compute, sum = 0;
        var times = new double[n];
        for (int step = 0; step < steps; step++)
        {
            for (int w = 0; w < n; w++)
                times[w] = baseTime + delays[step * n + w];
            Array.Sort(times);
            sum += times[k - 1];
        }

        double expected = OrderStatisticBound.ExpectedKthFastest(injector, n, k, load, compute);
        Assert.InRange(sum / steps, expected * 0.97, expected * 1.03);
    }

    [Fact]
    public void Nonsense_arguments_are_refused()
    {
        var model = StragglerInjector.Parse("bimodal", 8, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => OrderStatisticBound.ExpectedKthFastest(model, n: 8, k: 9, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OrderStatisticBound.ExpectedKthFastest(model, n: 8, k: 0, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OrderStatisticBound.ExpectedKthFastest(model, n: 8, k: 8, load: 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OrderStatisticBound.ExpectedKthFastest(model, n: 8, k: 8, 1, double.NaN));
    }
}
