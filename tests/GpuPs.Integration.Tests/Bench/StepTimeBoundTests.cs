using GpuPs.Cli.Bench;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>The benchmark's bound per scheme: which method, and the first-decodable-set rule for coded schemes.</summary>
public class StepTimeBoundTests
{
    [Fact]
    public void Persistent_stragglers_in_distinct_fractional_groups_cost_the_coded_step_nothing_and_bsp_the_whole_delay()
    {
        var model = StragglerInjector.Parse("persistent:workers=2+5,delay=0.5,unit=0.02", 8, seed: 42);

        Assert.Equal((0.04, 0.0, "decodable"), StepTimeBound.Expected(StragglerScheme.CodedFractional, 8, 1, model, computePerPartition: 0));
        Assert.Equal((0.52, 0.0, "order-stat"), StepTimeBound.Expected(StragglerScheme.Bsp, 8, 0, model, computePerPartition: 0));
        // Backup waits for n − s = 7 pushes, so for one of the two late workers.
        Assert.Equal(0.52, StepTimeBound.Expected(StragglerScheme.Backup, 8, 1, model, 0).Seconds, 12);
        Assert.Equal(0.04, StepTimeBound.OnDraws(StragglerScheme.CodedFractional, 8, 1, model, 0, from: 2, to: 30), 12);
    }

    [Fact]
    public void Beyond_the_enumerated_sizes_random_models_are_estimated_on_draws_with_a_standard_error()
    {
        const double p = 0.3;
        var model = StragglerInjector.Parse($"bimodal:p={p},delay=0.5", 16, seed: 42);

        var (seconds, se, method) = StepTimeBound.Expected(StragglerScheme.CodedFractional, 16, 1, model, computePerPartition: 0);

        Assert.Equal("monte-carlo", method);
        Assert.True(se > 0);
        double exact = 0.5 * (1 - Math.Pow(1 - p * p, 8)); // some group of two all slow
        Assert.InRange(seconds, exact - 5 * se, exact + 5 * se);
    }
}
