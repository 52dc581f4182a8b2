using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Tests.Heterogeneity;

/// <summary>
/// The zero-share rule: a worker gets no rows exactly when its own step (fixed cost + its share's kernel time) is at
/// least (1 + margin) of the step the others take without it, never all workers at once; the assignment it yields still covers every
/// row once.
/// </summary>
public class ZeroSharesTests
{
    private static readonly bool[] AllLive = [true, true, true];

    // Two fast workers (1000 rows/s, 0.25 s fixed) and a slow one: 1000 rows a step take the fast pair 0.5 + 0.25 s
    // (binary fractions, so the boundary compares exactly).
    private static StepCost[] Costs(double slowShareSeconds, double slowFixed = 0.25) =>
        [new(1000, 0.5, 0.25), new(1000, 0.5, 0.25), new(10, slowShareSeconds, slowFixed)];

    [Fact]
    public void A_worker_gets_a_zero_share_exactly_when_its_own_step_is_at_least_the_step_without_it()
    {
        Assert.Equal(0.75, ZeroShares.ProportionalStep(Costs(1), [0, 1], stepRows: 1000));

        // Its fixed cost + share at (1 + margin) of the step without it (0.9375 s): its rows hold the step up.
        Assert.Equal(0.9375, (1 + ZeroShares.Margin) * 0.75);
        Assert.Equal([false, false, true], ZeroShares.Idle(Costs(0.6875), AllLive, 1000));
        Assert.Equal([false, false, true], ZeroShares.Idle(Costs(2), AllLive, 1000));
        // A millisecond below it, it keeps its share.
        Assert.Equal([false, false, false], ZeroShares.Idle(Costs(0.6865), AllLive, 1000));
        // The fixed cost counts as much as the share: a slow link alone sets the step.
        Assert.Equal([false, false, true], ZeroShares.Idle(Costs(0.01, slowFixed: 0.9375), AllLive, 1000));
    }

    [Fact]
    public void A_worker_less_than_ten_times_slower_than_the_fastest_keeps_its_share()
    {
        // Its own step is 3 times the step without it, but it is only 9.9× slower: fixed costs alone are noise.
        StepCost[] costs = [new(1000, 0.5, 0.25), new(1000, 0.5, 0.25), new(1000 / 9.9, 2, 0.25)];
        Assert.Equal([false, false, false], ZeroShares.Idle(costs, AllLive, 1000));
        costs[2] = costs[2] with { Speed = 1000 / ZeroShares.MinSpeedRatio };
        Assert.Equal([false, false, true], ZeroShares.Idle(costs, AllLive, 1000));
    }

    [Fact]
    public void The_others_largest_fixed_cost_is_part_of_the_step_without_it()
    {
        StepCost[] costs = [new(1000, 0.5, 0.55), new(1000, 0.5, 0.25), new(10, 1, 0.25)];

        // Without worker 2 the step is 0.5 + 0.55 = 1.05 s; its own 1.25 s is below 1.25 times that (with worker 0's
        // fixed cost at 0.25 s, as in the test above, it would be idled).
        Assert.Equal([false, false, false], ZeroShares.Idle(costs, AllLive, 1000));
    }

    [Fact]
    public void Workers_are_judged_slowest_first_and_the_fastest_always_keeps_rows()
    {
        // Every worker's own step is longer than any step the others could take: all but the fastest are idled.
        StepCost[] costs = [new(5, 9, 0.01), new(1000, 9, 0.01), new(10, 9, 0.01)];
        Assert.Equal([true, false, true], ZeroShares.Idle(costs, AllLive, 1000));

        // The slowest keeps its rows: the rule stops there, and a faster worker is not idled past it.
        StepCost[] mixed = [new(5, 0.01, 0.01), new(1000, 9, 0.01), new(10, 9, 0.01)];
        Assert.Equal([false, false, false], ZeroShares.Idle(mixed, AllLive, 1000));
    }

    [Fact]
    public void Evicted_workers_are_idle_an_unmeasured_worker_is_not_and_no_live_worker_idles_nobody()
    {
        // Worker 0 evicted: worker 1 alone would take 1 + 0.25 s, so worker 2 (0.3 s) keeps its rows.
        Assert.Equal([true, false, false], ZeroShares.Idle(Costs(0.05), [false, true, true], 1000));
        Assert.Equal([false, false, false], ZeroShares.Idle(Costs(0), AllLive, 1000));      // not measured yet
        Assert.Equal([false, false, true], ZeroShares.Idle(Costs(0.9), AllLive, 1000));
        Assert.Equal([false, false, false], ZeroShares.Idle(Costs(0.9), AllLive, 0));       // step size unknown
        Assert.Equal([false, false, false], ZeroShares.Idle(Costs(0.9), [false, false, false], 1000));
    }

    [Fact]
    public void Between_the_step_without_it_and_the_margin_a_worker_keeps_what_it_has()
    {
        // Own step 0.76 s, just above the 0.75 s without it: a worker with rows keeps them, an idle one stays idle.
        Assert.False(ZeroShares.Idle(Costs(0.51), AllLive, 1000)[2]);
        Assert.True(ZeroShares.Idle(Costs(0.51), AllLive, 1000, idleBefore: [2])[2]);
        // Below the step without it, rows come back.
        Assert.False(ZeroShares.Idle(Costs(0.49), AllLive, 1000, idleBefore: [2])[2]);
    }

    [Fact]
    public void Invalid_costs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ZeroShares.Idle(Costs(0.1), [true, true], 1000));
        Assert.Throws<ArgumentException>(() => ZeroShares.Idle([new(0, 1, 1), new(1, 1, 1)], [true, true], 1000));
        Assert.Throws<ArgumentException>(() => ZeroShares.Idle([new(double.NaN, 1, 1), new(1, 1, 1)], [true, true], 1000));
    }

    [Fact]
    public void A_zero_share_holds_no_rows_and_the_others_cover_every_row_once()
    {
        var data = TestData.Indexed(700);
        var assignment = new WorkAssignment(2, 5, [1.0, 2.0, 4.0], 0) { Idle = [1] };
        var code = new UncodedAssignment(assignment.Shares());

        var plans = Enumerable.Range(0, 3).Select(i => new PartitionPlan(data, code, i, batchSize: 0)).ToArray();

        Assert.Equal(new[] { 140, 0, 560 }, plans.Select(p => p.Data.Rows));
        Assert.Empty(code.PartitionsOf(1));
        Assert.Equal(Enumerable.Range(0, 700), plans.SelectMany(p => TestData.OriginalRows(p.Data)).Order());
        Assert.Contains("zero shares for workers 1", code.Construction);
        Assert.Throws<ArgumentException>(() => new UncodedAssignment([0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => new UncodedAssignment([1.0, -1.0]));
    }

    [Fact]
    public void Zero_shares_travel_on_the_wire_and_invalid_lists_are_refused()
    {
        var assignment = new WorkAssignment(3, 7, [1.0, 2.0, 4.0], 0.25) { Idle = [0, 2] };

        var back = AssignmentWire.FromWire(AssignmentWire.ToWire(assignment), 3);

        Assert.Equal(assignment.Idle, back.Idle);
        Assert.Equal(new[] { 0.0, 2.0, 0.0 }, back.Shares());
        foreach (int[] idle in new[] { new[] { 0, 1, 2 }, [3], [-1], [2, 1], [1, 1] })
        {
            var wire = AssignmentWire.ToWire(assignment with { Idle = idle });
            Assert.Contains($"idle workers must be ascending distinct ids below 3, leaving one with rows (got [{string.Join(", ", idle)}])",
                Assert.Throws<ArgumentException>(() => AssignmentWire.FromWire(wire, 3)).Message);
        }
    }
}
