using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>The relative persistent model's reference: a JIT-slow first step and single outliers do not move it.</summary>
public class ComputeReferenceTests
{
    [Fact]
    public void The_first_step_is_ignored_and_the_median_per_partition_compute_is_kept()
    {
        var reference = new ComputeReference();
        Assert.Equal(TimeSpan.Zero, reference.PerPartition);

        reference.Record(TimeSpan.FromSeconds(2), load: 2); // compilation
        Assert.Equal(TimeSpan.Zero, reference.PerPartition);

        reference.Record(TimeSpan.FromMilliseconds(6), load: 2);
        Assert.Equal(TimeSpan.FromMilliseconds(3), reference.PerPartition);
        reference.Record(TimeSpan.FromMilliseconds(900), load: 2); // one pre-empted step
        Assert.Equal(TimeSpan.FromMilliseconds(3), reference.PerPartition);
        reference.Record(TimeSpan.FromMilliseconds(8), load: 2);
        Assert.Equal(TimeSpan.FromMilliseconds(4), reference.PerPartition);
    }

    [Fact]
    public void The_window_follows_a_lasting_change_of_speed()
    {
        var reference = new ComputeReference();
        reference.Record(TimeSpan.FromSeconds(1), load: 1);
        for (int i = 0; i < ComputeReference.Window; i++)
            reference.Record(TimeSpan.FromMilliseconds(10), load: 1);
        for (int i = 0; i < ComputeReference.Window / 2 + 1; i++)
            reference.Record(TimeSpan.FromMilliseconds(2), load: 1);

        Assert.Equal(TimeSpan.FromMilliseconds(2), reference.PerPartition);
    }

    [Fact]
    public void A_relative_straggler_is_slowed_by_the_reference_not_by_one_slow_step()
    {
        var injector = StragglerInjector.Parse("persistent:workers=3,factor=10,unit=0.02", workers: 8, seed: 1);
        var reference = new ComputeReference();
        reference.Record(TimeSpan.FromSeconds(3), load: 1);
        reference.Record(TimeSpan.FromMilliseconds(1), load: 1);
        reference.Record(TimeSpan.FromSeconds(3), load: 1);
        reference.Record(TimeSpan.FromMilliseconds(1), load: 1);

        // 9 × (20 ms unit + 1 ms typical compute); the previous step's 3 s would have made it 27.2 s.
        Assert.Equal(9 * 0.021, injector.StepDelay(3, step: 4, load: 1, reference.PerPartition).TotalSeconds, 9);
    }
}
