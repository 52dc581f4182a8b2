using System.Collections.Concurrent;
using GpuPs.Core.Coding;
using GpuPs.Protocol;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The step time a scheme should reach under the straggler injector's time model, before overhead: worker i finishes
/// its step at T_i = load × (unit + c·r_i) + delay_i, where c is the measured real compute per partition, r_i the throttle
/// repeats (1 unless throttled) and delay_i the injected delay, spread evenly over the worker's partitions.
/// <list type="bullet">
/// <item>BSP, backup: E[T_(k)], the k-th fastest of n, exactly (<see cref="OrderStatisticBound"/>), k = n for BSP and
/// n − s for backup (method <c>order-stat</c>).</item>
/// <item>Coded: the expected time of the first responder set the code decodes (<see cref="ClosingSets.Decodable"/>),
/// which is when the server closes the step — for fractional repetition the latest group's fastest worker, for the
/// cyclic code the (n − s)-th fastest unless a smaller set happens to decode. Exact for every model up to
/// <see cref="ClosingSets.MaxEnumeratedWorkers"/> workers (method <c>decodable</c>); beyond, the random models are
/// estimated on <see cref="MonteCarloSteps"/> steps of the injector's own seeded draws (method <c>monte-carlo</c>,
/// with its standard error).</item>
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

    /// <summary>Built once per (code, n, s): the cyclic construction and the enumeration of responder sets are the costly parts.</summary>
    private static readonly ConcurrentDictionary<(string Code, int N, int S), IGradientCode> Codes = new();

    private static readonly ConcurrentDictionary<(StepBoundModel Bound, string Code, int N, int S), ClosingSets> Closings = new();

    /// <summary>Expected seconds per step, the standard error of that number (0 when exact) and the method's name
    /// (<c>order-stat</c>, <c>decodable</c>, <c>monte-carlo</c>, <c>slowest-mean</c>).</summary>
    public static (double Seconds, double StandardError, string Method) Expected(StragglerScheme scheme, int n, int s, StragglerInjector model, double computePerPartition)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(model);
        if (scheme.Bound == StepBoundModel.SlowestWorker)
        {
            // The slowest worker's mean step; its standard error stands for the maximum's.
            var slowest = Enumerable.Range(0, n)
                .Select(i => Sample(MonteCarloSteps, t => model.ModelledStepSeconds(i, t, scheme.Load(s), computePerPartition)))
                .MaxBy(x => x.Mean);
            return (slowest.Mean, slowest.StandardError, "slowest-mean");
        }
        if (scheme.Bound == StepBoundModel.Coverage)
        {
            var (mean, se) = Sample(MonteCarloSteps, t => StepOnDraws(scheme, n, s, model, computePerPartition, t));
            return (mean, se, "monte-carlo");
        }
        var closing = Closing(scheme, n, s);
        if (closing.NotClosingFraction is null && model.Model is ShiftedExponentialDelay or BimodalDelay)
        {
            var (mean, se) = Sample(MonteCarloSteps, t => StepOnDraws(scheme, n, s, model, computePerPartition, t));
            return (mean, se, "monte-carlo");
        }
        return (OrderStatisticBound.ExpectedClose(model, closing, scheme.Load(s), computePerPartition), 0,
            scheme.Bound == StepBoundModel.FirstDecodable ? "decodable" : "order-stat");
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
        var steps = Enumerable.Range(from, to - from);
        if (scheme.Bound == StepBoundModel.SlowestWorker)
            return Enumerable.Range(0, n).Max(i => steps.Average(t => model.ModelledStepSeconds(i, t, scheme.Load(s), computePerPartition)));
        return steps.Average(t => StepOnDraws(scheme, n, s, model, computePerPartition, t));
    }

    /// <summary>The close time of synchronous step <paramref name="step"/> on the injector's draws.</summary>
    private static double StepOnDraws(StragglerScheme scheme, int n, int s, StragglerInjector model, double c, int step)
    {
        int load = scheme.Load(s);
        var finish = new double[n];
        for (int i = 0; i < n; i++)
            finish[i] = model.ModelledStepSeconds(i, step, load, c);
        if (scheme.Bound != StepBoundModel.Coverage)
            return Closing(scheme, n, s).CloseTime(finish);
        var code = Code(scheme, n, s);
        var covered = new double[code.Partitions];
        Array.Fill(covered, double.PositiveInfinity);
        for (int i = 0; i < n; i++)
        {
            var held = code.PartitionsOf(i);
            for (int h = 0; h < held.Count; h++)
                covered[held[h]] = Math.Min(covered[held[h]], (h + 1) * finish[i] / load);
        }
        return covered.Max();
    }

    private static ClosingSets Closing(StragglerScheme scheme, int n, int s) =>
        Closings.GetOrAdd((scheme.Bound, scheme.Code, n, s), key => key.Bound == StepBoundModel.FirstDecodable
            ? ClosingSets.Decodable(Code(scheme, n, s))
            : ClosingSets.FastestK(n, scheme.Waits(n, s)));

    private static IGradientCode Code(StragglerScheme scheme, int n, int s) =>
        Codes.GetOrAdd((scheme.Code, n, s), key => GradientCodeFactory.Create(key.Code, key.N, key.S));

    /// <summary>Mean and standard error of the mean of <paramref name="value"/> over steps 0 … <paramref name="steps"/> − 1.</summary>
    private static (double Mean, double StandardError) Sample(int steps, Func<int, double> value)
    {
        double mean = 0, m2 = 0; // Welford
        for (int t = 0; t < steps; t++)
        {
            double x = value(t), d = x - mean;
            mean += d / (t + 1);
            m2 += d * (x - mean);
        }
        return (mean, Math.Sqrt(m2 / Math.Max(1, steps - 1) / steps));
    }
}
