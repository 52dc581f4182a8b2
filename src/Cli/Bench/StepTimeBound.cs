using GpuPs.Core.Coding;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The step time a scheme should reach under the straggler injector's time model, before overhead: worker i finishes
/// its step at T_i = load × (unit + c·r_i) + delay_i, where c is the measured real compute per partition, r_i the throttle
/// repeats (1 unless throttled) and delay_i the injected delay, spread evenly over the worker's partitions.
/// <list type="bullet">
/// <item>BSP, backup, coded: E[T_(k)], the k-th fastest of n, analytically (<see cref="OrderStatisticBound"/>), k = n for
/// BSP and n − s for backup and coded; load s + 1 when coded.</item>
/// <item>Multi-message: the expected time until every partition has one message, by Monte Carlo over
/// <see cref="MonteCarloSteps"/> steps drawn from the same injector (see <see cref="OnDraws"/>).
/// Worker i finishes its h-th held partition (in the ascending order it computes them) at (h + 1) · T_i / load, and a
/// partition is covered at the earliest such time over its replicas; the step closes at the latest partition's cover.
/// No closed form is used because the cover time depends on which workers share a partition.</item>
/// <item>ASP, SSP: max_i E[T_i] (Monte Carlo means). Every worker must push all its steps, so a run's mean time per round of n updates is at
/// least the slowest worker's mean step; SSP is further bounded by staleness, which only adds waiting.</item>
/// </list>
/// </summary>
public static class StepTimeBound
{
    /// <summary>Steps drawn for the Monte Carlo and per-worker means (the standard error is then ~1% of the delay's sd).</summary>
    public const int MonteCarloSteps = 20_000;

    /// <summary>Expected seconds per step and the method's name (<c>order-stat</c>, <c>monte-carlo</c>, <c>slowest-mean</c>).</summary>
    public static (double Seconds, string Method) Expected(StragglerScheme scheme, int n, int s, StragglerInjector model, double computePerPartition)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(model);
        if (scheme.Mode == Protocol.SyncMode.MultiMessage || scheme.IsAsynchronous)
            return (OnDraws(scheme, n, s, model, computePerPartition, 0, MonteCarloSteps), scheme.IsAsynchronous ? "slowest-mean" : "monte-carlo");
        return (OrderStatisticBound.ExpectedKthFastest(model, n, scheme.Waits(n, s), scheme.Load(s), computePerPartition), "order-stat");
    }

    /// <summary>
    /// The same time model evaluated on the delays the injector draws for steps [<paramref name="from"/>,
    /// <paramref name="to"/>) — for a run's own steps, the model step time without sampling noise: every draw is a pure
    /// function of (seed, worker, step), so these are exactly the delays the run's workers slept.
    /// </summary>
    public static double OnDraws(StragglerScheme scheme, int n, int s, StragglerInjector model, double computePerPartition, int from, int to)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(to, from);
        int load = scheme.Load(s);
        var steps = Enumerable.Range(from, to - from);
        if (scheme.IsAsynchronous)
            return Enumerable.Range(0, n).Max(i => steps.Average(t => WorkerStep(model, i, t, load, computePerPartition)));
        if (scheme.Mode == Protocol.SyncMode.MultiMessage)
        {
            var code = GradientCodeFactory.Create(scheme.Code, n, s);
            var held = Enumerable.Range(0, n).Select(code.PartitionsOf).ToArray();
            return steps.Average(t => CoverTime(held, code.Partitions, model, t, load, computePerPartition));
        }
        int k = scheme.Waits(n, s);
        return steps.Average(t => Enumerable.Range(0, n).Select(i => WorkerStep(model, i, t, load, computePerPartition)).Order().ElementAt(k - 1));
    }

    private static double CoverTime(IReadOnlyList<int>[] held, int partitions, StragglerInjector model, int step, int load, double c)
    {
        var covered = new double[partitions];
        Array.Fill(covered, double.PositiveInfinity);
        for (int i = 0; i < held.Length; i++)
        {
            double perPartition = WorkerStep(model, i, step, load, c) / load;
            for (int h = 0; h < held[i].Count; h++)
                covered[held[i][h]] = Math.Min(covered[held[i][h]], (h + 1) * perPartition);
        }
        return covered.Max();
    }

    /// <summary>T_i of step t. The measured compute passed to the injector is what the worker would have measured (it
    /// scales the persistent model's delay), throttle repeats included.</summary>
    private static double WorkerStep(StragglerInjector model, int worker, int step, int load, double c)
    {
        double compute = load * c * model.ComputeRepeats(worker);
        return load * model.Unit.TotalSeconds + compute + model.StepDelay(worker, step, load, TimeSpan.FromSeconds(compute)).TotalSeconds;
    }
}
