using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>The <c>slowdown</c> straggler model: mixed speeds from real kernel repeats, a mid-run change, a late worker.</summary>
public class SlowdownModelTests
{
    [Fact]
    public void Factors_set_each_workers_repeats_and_workers_beyond_the_list_run_at_full_speed()
    {
        var injector = StragglerInjector.Parse("slowdown:factors=4+2", 3, seed: 1);

        Assert.Equal([4, 2, 1], Enumerable.Range(0, 3).Select(w => injector.ComputeRepeatsAt(w, step: 7)));
        Assert.Equal("slowdown:factors=4+2,at=0,then=1,late=-1,delay=0", injector.Spec);
        Assert.Equal(injector.Spec, StragglerInjector.Parse(injector.Spec, 3, 1).Spec);
        Assert.Equal(TimeSpan.Zero, injector.StepDelay(0, 3, 1, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void From_step_at_on_the_then_factors_apply()
    {
        var injector = StragglerInjector.Parse("slowdown:factors=1+1+1,at=20,then=4+1+1", 3, seed: 1);

        Assert.Equal(1, injector.ComputeRepeatsAt(0, step: 19));
        Assert.Equal(4, injector.ComputeRepeatsAt(0, step: 20));
        Assert.Equal(1, injector.ComputeRepeatsAt(1, step: 20));
        Assert.Contains("from step 20 4:1:1 times", injector.Describe());
    }

    [Fact]
    public void The_late_worker_is_exactly_delay_seconds_late_every_step()
    {
        var injector = StragglerInjector.Parse("slowdown:factors=4+2+1,late=2,delay=0.3", 3, seed: 1);

        Assert.Equal(TimeSpan.FromSeconds(0.3), injector.StepDelay(2, 5, 1, TimeSpan.Zero));
        Assert.Equal(TimeSpan.Zero, injector.StepDelay(1, 5, 1, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("slowdown:factors=4+0", "\"0\" is not a whole repeat count")]
    [InlineData("slowdown:factors=1+1+1+1", "4 factors for 3 workers")]
    [InlineData("slowdown:late=3,delay=1", "must be a worker id 0 … 2 or -1")]
    [InlineData("slowdown:at=2.5", "must be a whole step number")]
    public void Bad_slowdowns_are_refused_by_name(string spec, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => StragglerInjector.Parse(spec, 3, seed: 1));
        Assert.Contains(message, e.Message);
    }
}
