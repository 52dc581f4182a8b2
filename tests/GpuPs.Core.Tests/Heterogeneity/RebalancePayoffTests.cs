using GpuPs.Core.Heterogeneity;

namespace GpuPs.Core.Tests.Heterogeneity;

public class RebalancePayoffTests
{
    [Fact]
    public void The_gain_is_the_step_fraction_that_shares_by_the_measured_speeds_save()
    {
        // Equal shares, speeds 1 : 3: the slow worker takes 0.5 of the rows' time; by speed 1 / 4.
        Assert.Equal(0.5, RebalancePayoff.StepGain([1, 1], [1, 3], [true, true]), 9);
        // Shares already by speed: nothing to gain.
        Assert.Equal(0, RebalancePayoff.StepGain([1, 3], [2, 6], [true, true]), 9);
        // An idle or unjudged worker counts for neither side.
        Assert.Equal(0, RebalancePayoff.StepGain([1, 3, 0], [2, 6, 1], [true, true, false]), 9);
    }

    [Fact]
    public void A_reassignment_pays_when_the_gain_over_the_steps_left_exceeds_its_cost()
    {
        var payoff = new RebalancePayoff();

        Assert.Equal(RebalancePayoff.DefaultCostSteps, payoff.Cost);
        Assert.False(payoff.Pays(0.1, 10));   // saves 1 step, costs 2
        Assert.True(payoff.Pays(0.1, 30));    // saves 3
    }

    [Fact]
    public void The_cost_is_measured_on_the_steps_after_each_switch_and_replaces_the_guess()
    {
        var payoff = new RebalancePayoff();
        for (long step = 0; step < 6; step++) payoff.ObserveStep(step, 1.0);
        payoff.Switched(6);
        payoff.ObserveStep(6, 4.0);   // the step that loads the moved rows
        payoff.ObserveStep(7, 1.0);
        Assert.Equal(3, payoff.Cost, 9);   // 5 s for 2 steps of 1 s

        for (long step = 8; step < 12; step++) payoff.ObserveStep(step, 2.0);
        payoff.Switched(12);
        payoff.ObserveStep(12, 2.0);
        payoff.ObserveStep(13, 1.0);   // the new shares were faster at once: no cost
        Assert.Equal(1.5, payoff.Cost, 9);   // the mean of 3 and 0
    }
}
