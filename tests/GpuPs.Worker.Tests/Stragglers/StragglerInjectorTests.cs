using System.Collections.Concurrent;
using System.Diagnostics;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>Spec parsing, reproducibility, the empirical distributions of the draws, and cancellation of the sleeps.</summary>
public class StragglerInjectorTests
{
    private const int Workers = 8;

    [Theory]
    [InlineData("none", "none", typeof(NoStragglers))]
    [InlineData("NONE:unit=0.01", "none:unit=0.01", typeof(NoStragglers))]
    [InlineData("persistent", "persistent:count=2,factor=10", typeof(PersistentStragglers))]
    [InlineData(" persistent : factor = 3.5 , count = 1 ", "persistent:count=1,factor=3.5", typeof(PersistentStragglers))]
    [InlineData("shifted-exponential", "shifted-exponential:shift=0.05,rate=20", typeof(ShiftedExponentialDelay))]
    [InlineData("shifted-exponential:rate=1,shift=0,unit=0.002", "shifted-exponential:shift=0,rate=1,unit=0.002", typeof(ShiftedExponentialDelay))]
    [InlineData("bimodal:p=1", "bimodal:p=1,delay=0.5", typeof(BimodalDelay))]
    [InlineData("bimodal:p=0,delay=2", "bimodal:p=0,delay=2", typeof(BimodalDelay))]
    [InlineData("throttle:count=8", "throttle:count=8,factor=4", typeof(ThrottledWorkers))]
    [InlineData("throttle:count=0,factor=1", "throttle:count=0,factor=1", typeof(ThrottledWorkers))]
    [InlineData("persistent:delay=0.5", "persistent:count=2,delay=0.5", typeof(PersistentStragglers))]
    [InlineData("Persistent: delay=0.5 , Workers = 5+2", "persistent:workers=2+5,delay=0.5", typeof(PersistentStragglers))]
    [InlineData("persistent:workers=7,factor=3", "persistent:workers=7,factor=3", typeof(PersistentStragglers))]
    [InlineData("persistent:delay=0.0003,unit=0.02", "persistent:count=2,delay=0.0003,unit=0.02", typeof(PersistentStragglers))]
    [InlineData("throttle:workers=0+3+6", "throttle:workers=0+3+6,factor=4", typeof(ThrottledWorkers))]
    public void Every_model_parses_to_a_normalised_spec_that_parses_back(string spec, string normalised, Type model)
    {
        var injector = StragglerInjector.Parse(spec, Workers, seed: 1);

        Assert.Equal(normalised, injector.Spec);
        Assert.IsType(model, injector.Model);
        Assert.Equal(injector.Model, StragglerInjector.Parse(injector.Spec, Workers, seed: 1).Model);
        Assert.StartsWith($"stragglers {normalised}: ", injector.Describe());
        Assert.DoesNotContain('\n', injector.Describe());
    }

    [Fact]
    public void Parsed_values_reach_the_model_and_unit()
    {
        Assert.Equal(new PersistentStragglers(SlowWorkers.Seeded(3), 2.5, 0), StragglerInjector.Parse("persistent:count=3,factor=2.5", Workers, 1).Model);
        Assert.Equal(new PersistentStragglers(SlowWorkers.Listed([5, 2]), 1, 0.5), StragglerInjector.Parse("persistent:workers=2+5,delay=0.5", Workers, 1).Model);
        Assert.Equal(new PersistentStragglers(SlowWorkers.Seeded(2), 1, 0.25), StragglerInjector.Parse("persistent:delay=0.25", Workers, 1).Model);
        Assert.Equal(new ShiftedExponentialDelay(0.1, 4), StragglerInjector.Parse("shifted-exponential:shift=0.1,rate=4", Workers, 1).Model);
        Assert.Equal(new BimodalDelay(0.25, 1.5), StragglerInjector.Parse("bimodal:p=0.25,delay=1.5", Workers, 1).Model);
        Assert.Equal(new ThrottledWorkers(SlowWorkers.Seeded(1), 3), StragglerInjector.Parse("throttle:count=1,factor=3", Workers, 1).Model);
        Assert.Equal(new ThrottledWorkers(SlowWorkers.Listed([1, 4]), 2), StragglerInjector.Parse("throttle:workers=4+1,factor=2", Workers, 1).Model);
        Assert.Equal(TimeSpan.FromMilliseconds(20), StragglerInjector.Parse("bimodal:unit=0.02", Workers, 1).Unit);
        Assert.Equal(TimeSpan.Zero, StragglerInjector.None.Unit);
        Assert.Equal("none", StragglerInjector.None.Spec);
    }

    [Theory]
    [InlineData("gamma:shape=2", "unknown model \"gamma\"")]
    [InlineData("", "unknown model \"\"")]
    [InlineData("persistent:speed=3", "unknown key \"speed\" for persistent")]
    [InlineData("none:count=1", "unknown key \"count\" for none")]
    [InlineData("bimodal:p", "\"p\" is not key=value")]
    [InlineData("bimodal:p=0.1,p=0.2", "key \"p\" given twice")]
    [InlineData("shifted-exponential:shift=-0.1", "shift=-0.1 must be >= 0")]
    [InlineData("shifted-exponential:rate=0", "rate=0 must be > 0")]
    [InlineData("shifted-exponential:rate=NaN", "rate=\"NaN\" is not a finite number")]
    [InlineData("bimodal:delay=Infinity", "delay=\"Infinity\" is not a finite number")]
    [InlineData("bimodal:delay=abc", "delay=\"abc\" is not a finite number")]
    [InlineData("none:unit=-1", "unit=-1 must be >= 0")]
    [InlineData("bimodal:p=1.5", "p=1.5 must be in [0, 1]")]
    [InlineData("bimodal:p=-0.1", "p=-0.1 must be in [0, 1]")]
    [InlineData("persistent:count=9", "count=9 exceeds the 8 workers")]
    [InlineData("throttle:count=1.5", "count=1.5 must be a whole number >= 0")]
    [InlineData("persistent:factor=0.5", "factor=0.5 must be >= 1")]
    [InlineData("throttle:factor=2.5", "factor=2.5 must be a whole number >= 1")]
    [InlineData("persistent:factor=2,delay=0.5", "give factor= or delay=, not both")]
    [InlineData("persistent:workers=2+5,count=2", "give workers= or count=, not both")]
    [InlineData("throttle:count=1,workers=3", "give count= or workers=, not both")]
    [InlineData("persistent:delay=-0.5", "delay=-0.5 must be >= 0")]
    [InlineData("persistent:workers=2+8,delay=0.5", "workers=2+8: worker 8 is not one of the 8 workers (ids 0 … 7)")]
    [InlineData("persistent:workers=5+5", "workers=5+5: worker 5 is listed twice")]
    [InlineData("persistent:workers=-1", "workers=\"-1\": \"-1\" is not a worker id (ids are joined by +, e.g. workers=2+5)")]
    [InlineData("persistent:workers=", "workers=\"\": \"\" is not a worker id")]
    [InlineData("persistent:workers=2.5", "\"2.5\" is not a worker id")]
    [InlineData("persistent:workers=2,5", "\"5\" is not key=value")]
    [InlineData("bimodal:workers=1", "unknown key \"workers\" for bimodal")]
    public void Bad_specs_are_refused_with_one_line_naming_the_part_and_the_accepted_forms(string spec, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => StragglerInjector.Parse(spec, Workers, seed: 1));

        Assert.Contains(problem, e.Message);
        Assert.Contains($"\"{spec}\"", e.Message);
        Assert.Contains("Accepted: none | persistent:[count=2|workers=I+J],[factor=10|delay=SECONDS] | shifted-exponential:shift=0.05,rate=20 | "
                        + "bimodal:p=0.1,delay=0.5 | throttle:[count=2|workers=I+J],factor=4 | slowdown:factors=F+F+…,at=0,then=F+F+…,late=-1,delay=0 "
                        + "(each also takes unit=SECONDS", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Worker_ids_outside_the_cluster_are_refused()
    {
        var injector = StragglerInjector.Parse("bimodal", Workers, seed: 1);

        Assert.Throws<ArgumentOutOfRangeException>(() => injector.StepDelay(Workers, 0, 1, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => injector.IsSlowWorker(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => injector.StepDelay(0, 0, load: 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("shifted-exponential")]
    [InlineData("bimodal:p=0.5")]
    public void Draws_depend_only_on_seed_worker_and_step(string spec)
    {
        const int steps = 200;
        var a = StragglerInjector.Parse(spec, Workers, seed: 42);
        var sequential = Draws(a, Workers, steps);

        // A second injector, queried from many threads in a scrambled order, must agree draw for draw.
        var b = StragglerInjector.Parse(spec, Workers, seed: 42);
        var parallel = new ConcurrentDictionary<int, double>();
        Parallel.ForEach(Enumerable.Range(0, Workers * steps).Reverse(), new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => parallel[i] = b.StepDelay(i % Workers, i / Workers, load: 1, TimeSpan.Zero).TotalSeconds);
        Assert.Equal(sequential, Enumerable.Range(0, Workers * steps).Select(i => parallel[i]));

        var otherSeed = Draws(StragglerInjector.Parse(spec, Workers, seed: 43), Workers, steps);
        Assert.NotEqual(sequential, otherSeed);
        // Not merely a permutation across workers or steps either: a decent fraction of draws differ.
        Assert.True(sequential.Zip(otherSeed).Count(p => p.First != p.Second) > Workers * steps / 3);
    }

    [Fact]
    public void Shifted_exponential_delays_have_mean_shift_plus_one_over_rate_and_are_at_least_shift()
    {
        var injector = StragglerInjector.Parse("shifted-exponential:shift=0.05,rate=20", workers: 50, seed: 7);
        var delays = Draws(injector, workers: 50, steps: 2_000);

        Assert.True(delays.Min() >= 0.05);
        Assert.Equal(0.05 + 1.0 / 20, delays.Average(), 0.1 / 50); // within 2 % (standard error ≈ 0.16 %)
        // Exponential tail: P(delay − shift > 1/rate) = e^−1.
        Assert.Equal(Math.Exp(-1), delays.Count(d => d - 0.05 > 0.05) / (double)delays.Length, 0.01);
    }

    [Fact]
    public void Bimodal_delays_are_zero_or_delay_with_frequency_p()
    {
        var injector = StragglerInjector.Parse("bimodal:p=0.1,delay=0.5", workers: 50, seed: 7);
        var delays = Draws(injector, workers: 50, steps: 2_000);

        Assert.All(delays, d => Assert.True(d is 0 or 0.5));
        Assert.Equal(0.1, delays.Count(d => d > 0) / (double)delays.Length, 0.005); // standard error ≈ 0.07 %
    }

    [Theory]
    [InlineData("persistent:count=3", 3)]
    [InlineData("throttle:count=2,factor=5", 2)]
    [InlineData("throttle:count=0", 0)]
    public void Persistent_and_throttle_choose_exactly_count_workers_stably_per_seed(string spec, int count)
    {
        var injector = StragglerInjector.Parse(spec, Workers, seed: 3);
        var slow = Enumerable.Range(0, Workers).Where(injector.IsSlowWorker).ToArray();

        Assert.Equal(count, slow.Length);
        Assert.Equal(slow, Enumerable.Range(0, Workers).Where(StragglerInjector.Parse(spec, Workers, seed: 3).IsSlowWorker));
        foreach (var w in slow)
            Assert.Contains($"{w}", injector.Describe());
    }

    [Fact]
    public void Different_seeds_choose_different_slow_workers()
    {
        var choices = Enumerable.Range(0, 20)
            .Select(seed => string.Join(",", Enumerable.Range(0, Workers).Where(StragglerInjector.Parse("persistent:count=2", Workers, (ulong)seed).IsSlowWorker)))
            .Distinct();
        Assert.True(choices.Count() > 5); // 28 possible pairs
    }

    [Fact]
    public void Persistent_slow_workers_take_factor_times_as_long_and_the_others_nothing_extra()
    {
        var injector = StragglerInjector.Parse("persistent:count=2,factor=10,unit=0.01", Workers, seed: 5);
        var typical = TimeSpan.FromMilliseconds(10);
        for (int w = 0; w < Workers; w++)
        {
            // T = load × (unit + compute) + delay, which must be 10 × 3 × (0.01 + 0.01) for the slow ones.
            double total = 3 * (0.01 + typical.TotalSeconds) + injector.StepDelay(w, step: 4, load: 3, typical).TotalSeconds;
            Assert.Equal(injector.IsSlowWorker(w) ? 0.6 : 0.06, total, 1e-6);
            Assert.Equal(1, injector.ComputeRepeats(w));
        }
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(99UL)]
    public void Absolute_persistent_delay_is_exactly_delay_for_the_listed_workers_only_whatever_the_load_and_compute(ulong seed)
    {
        var injector = StragglerInjector.Parse("persistent:workers=2+5,delay=0.5,unit=0.02", Workers, seed);

        Assert.Equal([2, 5], Enumerable.Range(0, Workers).Where(injector.IsSlowWorker));
        foreach (int load in new[] { 1, 2, 4 })
        foreach (var compute in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(3), TimeSpan.FromSeconds(2) })
        for (int w = 0; w < Workers; w++)
        {
            var expected = w is 2 or 5 ? TimeSpan.FromSeconds(0.5) : TimeSpan.Zero;
            Assert.Equal(expected, injector.StepDelay(w, step: 7, load, compute));
            Assert.Equal(expected, injector.StepDelay(w, step: 8, load, compute));
        }
        Assert.Contains("workers [2, 5] of 8 are 0.5 s late every step", injector.Describe());
    }

    [Fact]
    public void Listed_throttle_workers_are_the_ones_repeating()
    {
        var injector = StragglerInjector.Parse("throttle:workers=0+7,factor=3", Workers, seed: 5);

        Assert.Equal([3, 1, 1, 1, 1, 1, 1, 3], Enumerable.Range(0, Workers).Select(injector.ComputeRepeats));
    }

    [Fact]
    public void Throttle_repeats_compute_for_chosen_workers_and_sleeps_nothing()
    {
        var injector = StragglerInjector.Parse("throttle:count=2,factor=4", Workers, seed: 5);
        for (int w = 0; w < Workers; w++)
        {
            Assert.Equal(injector.IsSlowWorker(w) ? 4 : 1, injector.ComputeRepeats(w));
            Assert.Equal(TimeSpan.Zero, injector.StepDelay(w, step: 1, load: 2, TimeSpan.FromSeconds(1)));
        }
        Assert.True(injector.AfterPartitionAsync(0, 1, 2, TimeSpan.Zero, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AfterPartition_sleeps_unit_plus_the_partitions_share_of_the_step_delay()
    {
        var injector = StragglerInjector.Parse("bimodal:unit=0.02", Workers, seed: 1);
        var clock = new ManualTimeProvider();

        // 20 ms unit + 60 ms / 3 partitions = 40 ms on the injected clock.
        var sleep = injector.AfterPartitionAsync(0, step: 0, load: 3, TimeSpan.FromMilliseconds(60), CancellationToken.None, clock);
        clock.Advance(TimeSpan.FromMilliseconds(39));
        Assert.False(sleep.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await sleep.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AfterPartition_sleeps_sub_millisecond_units()
    {
        var injector = StragglerInjector.Parse("persistent:workers=1,delay=0.0006,unit=0.0003", Workers, seed: 1);
        var watch = Stopwatch.StartNew();

        await injector.AfterPartitionAsync(1, step: 0, load: 2, injector.StepDelay(1, 0, 2, TimeSpan.Zero), CancellationToken.None);

        // 0.3 ms unit + 0.6 ms / 2 per partition; Task.Delay alone would not wait at all.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(0.6), $"slept only {watch.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task AfterPartition_stops_when_cancelled()
    {
        // An hour-long sleep: were cancellation ignored, the test would hang rather than pass.
        var injector = StragglerInjector.Parse("none:unit=3600", Workers, seed: 1);
        using var cts = new CancellationTokenSource();
        var sleeping = injector.AfterPartitionAsync(0, step: 0, load: 1, TimeSpan.Zero, cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sleeping);

        var already = injector.AfterPartitionAsync(0, step: 0, load: 1, TimeSpan.Zero, cts.Token);
        Assert.True(already.IsCanceled);
    }

    /// <summary>Delay in seconds of every (worker, step), worker-major within a step.</summary>
    internal static double[] Draws(StragglerInjector injector, int workers, int steps) =>
        Enumerable.Range(0, workers * steps)
            .Select(i => injector.StepDelay(i % workers, i / workers, load: 1, TimeSpan.Zero).TotalSeconds)
            .ToArray();
}
