using GpuPs.Cli.Bench;

namespace GpuPs.Integration.Tests.Bench;

public class HeteroBenchmarkTests
{
    [Fact]
    public void A_run_settles_at_the_first_of_three_steps_in_a_row_within_15_percent_of_the_bound()
    {
        // Bound 1.0: steps 0–2 are slow, step 3 is within but step 4 is not, steps 5–7 are all within.
        double[] seconds = [4, 3, 2, 1.1, 1.2, 1.15, 1.0, 0.9, 3];

        Assert.Equal(5, HeteroBenchmark.Settled(seconds, 1.0));
        Assert.Equal(-1, HeteroBenchmark.Settled([4, 4, 1, 1], 1.0));
    }

    [Fact]
    public void Rebalanced_after_counts_from_the_drop_to_the_first_version_published_after_it()
    {
        Assert.Equal(4, HeteroBenchmark.Rebalanced([0, 7, 24, 35], 20));
        Assert.Equal(-1, HeteroBenchmark.Rebalanced([0, 20], 20));   // published when step 19 closed: before any slow step
        Assert.Equal(-1, HeteroBenchmark.Rebalanced([], 20));
    }

    [Fact]
    public async Task An_unknown_scenario_is_refused_before_anything_runs()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => HeteroBenchmark.RunAsync(
            new HeteroBenchmarkOptions([4, 2, 1], Scenarios: ["proportional", "propotional"]), _ => { }, Serilog.Core.Logger.None, CancellationToken.None));

        Assert.Contains("'propotional'", e.Message);
        Assert.Contains("straggler-optimal-code", e.Message);
    }
}
