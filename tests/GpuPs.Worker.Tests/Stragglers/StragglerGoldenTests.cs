using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>
/// The straggler draws are a pure function of (seed, worker, step), so a benchmark's stragglers are the same on every
/// build and machine: these pin their values (draws, the seeded choice of slow workers) and every model's one-line
/// description, and the slow-worker lists' value semantics.
/// </summary>
public class StragglerGoldenTests
{
    [Theory]
    [InlineData(0, 0L, 0.1044338)]
    [InlineData(1, 0L, 0.6449841)]
    [InlineData(0, 1L, 2.2984405)]
    [InlineData(7, 123456789L, 0.8636718)]
    public void Shifted_exponential_draws_are_a_fixed_function_of_seed_worker_and_step(int worker, long step, double seconds)
    {
        var injector = StragglerInjector.Parse("shifted-exponential:shift=0,rate=1", 8, seed: 42);
        Assert.Equal(seconds, injector.StepDelay(worker, step, 1, TimeSpan.Zero).TotalSeconds, 6);
    }

    [Theory]
    [InlineData(1UL, new[] { 0, 2, 3 })]
    [InlineData(7UL, new[] { 3, 6, 7 })]
    [InlineData(12345UL, new[] { 0, 1, 5 })]
    public void The_seed_s_choice_of_slow_workers_is_fixed(ulong seed, int[] slow)
    {
        Assert.Equal(slow, Enumerable.Range(0, 8).Where(StragglerInjector.Parse("persistent:count=3", 8, seed).IsSlowWorker));
        Assert.Equal(slow, SlowWorkers.Seeded(3).Resolve(8, seed));
    }

    [Theory]
    [InlineData("persistent:workers=1+3,delay=0.5,unit=0.01",
        "stragglers persistent:workers=1+3,delay=0.5,unit=0.01: workers [1, 3] of 4 are 0.5 s late every step; plus 0.01 s simulated compute per partition (seed 9)")]
    [InlineData("persistent:count=2,factor=2.5", "stragglers persistent:count=2,factor=2.5: workers [1, 2] of 4 take 2.5x as long as their typical step, every step (seed 9)")]
    [InlineData("shifted-exponential:shift=0.05,rate=20",
        "stragglers shifted-exponential:shift=0.05,rate=20: every worker every step waits 0.05 s + Exp(rate 20/s), mean 0.1 s (seed 9)")]
    [InlineData("bimodal:p=0.1,delay=0.5", "stragglers bimodal:p=0.1,delay=0.5: every worker every step waits 0.5 s with probability 0.1 (seed 9)")]
    [InlineData("throttle:workers=2,factor=3", "stragglers throttle:workers=2,factor=3: workers [2] of 4 compute every gradient 3 times (real CPU slowdown) (seed 9)")]
    [InlineData("slowdown:factors=4+2+1,at=20,then=1+1+4",
        "stragglers slowdown:factors=4+2+1,at=20,then=1+1+4,late=-1,delay=0: worker i computes every gradient 4:2:1 times (real CPU slowdown, speeds 1/factor), from step 20 1:1:4 times (seed 9)")]
    [InlineData("slowdown:factors=2+1,late=1,delay=0.2",
        "stragglers slowdown:factors=2+1,at=0,then=1,late=1,delay=0.2: worker i computes every gradient 2:1 times (real CPU slowdown, speeds 1/factor); worker 1 is 0.2 s late every step (seed 9)")]
    [InlineData("none", "stragglers none: no injected stragglers (seed 9)")]
    public void Every_model_describes_itself_in_one_line(string spec, string description) =>
        Assert.Equal(description, StragglerInjector.Parse(spec, 4, seed: 9).Describe());

    [Fact]
    public void Bimodal_and_late_worker_delays_follow_their_model()
    {
        var always = StragglerInjector.Parse("bimodal:p=1,delay=0.5", 4, seed: 3);
        var never = StragglerInjector.Parse("bimodal:p=0,delay=0.5", 4, seed: 3);
        Assert.All(Enumerable.Range(0, 20), t => Assert.Equal(0.5, always.StepDelay(t % 4, t, 1, TimeSpan.Zero).TotalSeconds));
        Assert.All(Enumerable.Range(0, 20), t => Assert.Equal(0, never.StepDelay(t % 4, t, 1, TimeSpan.Zero).TotalSeconds));

        var late = StragglerInjector.Parse("slowdown:factors=2+1,late=1,delay=0.2", 2, seed: 3);
        Assert.Equal(0.2, late.StepDelay(1, 5, 3, TimeSpan.Zero).TotalSeconds, 9);
        Assert.Equal(0, late.StepDelay(0, 5, 3, TimeSpan.Zero).TotalSeconds);
        Assert.Equal([2, 1], new[] { late.ComputeRepeats(0), late.ComputeRepeats(1) });
        // T = load × (unit + c × repeats) + delay.
        Assert.Equal(3 * 0.01 * 2, late.ModelledStepSeconds(0, 5, 3, 0.01), 9);
        Assert.Equal(3 * 0.01 + 0.2, late.ModelledStepSeconds(1, 5, 3, 0.01), 9);
        var persistent = StragglerInjector.Parse("persistent:workers=0,factor=3,unit=0.1", 2, seed: 3);
        Assert.Equal(2 * 2 * (0.1 + 0.05), persistent.StepDelay(0, 1, 2, TimeSpan.FromSeconds(0.05)).TotalSeconds, 9);
        Assert.Equal(2 * 0.1 + 2 * 0.05 + 2 * 2 * (0.1 + 0.05), persistent.ModelledStepSeconds(0, 1, 2, 0.05), 9);
        Assert.Throws<ArgumentOutOfRangeException>(() => persistent.StepDelay(0, 1, 0, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => persistent.StepDelay(0, 1, 1, TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => persistent.StepDelay(2, 1, 1, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = persistent.AfterPartitionAsync(0, 1, 0, TimeSpan.Zero, CancellationToken.None); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = persistent.AfterPartitionAsync(0, 1, 1, TimeSpan.FromSeconds(-1), CancellationToken.None); });
    }

    [Fact]
    public void Slow_worker_lists_compare_by_value_and_refuse_impossible_ids()
    {
        Assert.Equal(SlowWorkers.Listed([3, 1]), SlowWorkers.Listed([1, 3]));
        Assert.Equal(SlowWorkers.Listed([3, 1]).GetHashCode(), SlowWorkers.Listed([1, 3]).GetHashCode());
        Assert.NotEqual(SlowWorkers.Listed([1, 3]), SlowWorkers.Listed([1, 4]));
        Assert.NotEqual(SlowWorkers.Listed([1, 3]), SlowWorkers.Seeded(2));
        Assert.NotEqual(SlowWorkers.Seeded(2), SlowWorkers.Listed([1, 3]));
        Assert.NotEqual(SlowWorkers.Seeded(2), SlowWorkers.Seeded(3));
        Assert.NotEqual(SlowWorkers.Seeded(2).GetHashCode(), SlowWorkers.Listed([1, 3]).GetHashCode());
        Assert.False(SlowWorkers.Seeded(2).Equals(null));
        Assert.Null(SlowWorkers.Seeded(2).Ids);
        Assert.Equal([1, 3], SlowWorkers.Listed([3, 1]).Ids);

        Assert.Contains("must be >= 0 (got -1)", Assert.Throws<ArgumentException>(() => SlowWorkers.Listed([2, -1])).Message);
        Assert.Contains("worker 2 is listed twice", Assert.Throws<ArgumentException>(() => SlowWorkers.Listed([2, 0, 2])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SlowWorkers.Seeded(-1));
        Assert.Contains("3 slow workers exceed the 2 workers", Assert.Throws<ArgumentException>(() => SlowWorkers.Seeded(3).Resolve(2, 1)).Message);
        Assert.Contains("worker 4 is not one of the 4 workers (ids 0 … 3)", Assert.Throws<ArgumentException>(() => SlowWorkers.Listed([4]).Resolve(4, 1)).Message);
        Assert.Empty(SlowWorkers.Listed([]).Resolve(4, 1));
        Assert.Equal([0, 1, 2, 3], SlowWorkers.Seeded(4).Resolve(4, 5));
        var listed = SlowWorkers.Listed([0, 3]);
        var resolved = listed.Resolve(4, 1);
        resolved[0] = 9;
        Assert.Equal([0, 3], listed.Resolve(4, 1));   // a copy: the caller cannot change the list
    }
}
