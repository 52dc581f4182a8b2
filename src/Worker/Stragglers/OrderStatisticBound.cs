namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The analytic reference the straggler benchmark compares against: the expected time at which a step closes, under the
/// time model of <see cref="StragglerInjector"/> (T_i = load × (unit + compute) + delay_i), given which sets of finished
/// workers close it (<see cref="ClosingSets"/>). Waiting for all n is the BSP cost; a backup step waits for the n − s
/// fastest; a coded step for the first responder set its code decodes.
/// </summary>
public static class OrderStatisticBound
{
    /// <summary>
    /// E[close time] in seconds of a step of <see cref="ClosingSets.Workers"/> workers, each with <paramref name="load"/>
    /// partitions costing <paramref name="computePerPartition"/> seconds of real compute plus the model's unit;
    /// base = load × (unit + c). With f_j the fraction of j-worker sets that do not close the step
    /// (<see cref="ClosingSets.NotClosingFraction"/>):
    /// <list type="bullet">
    /// <item>shifted exponential: base + shift + (1/rate) · Σ_j f_j / (n − j). Exact: E[close] = ∫ P(the set finished by
    /// t does not close) dt, and ∫ q^j (1 − q)^(n−j) dt over q = 1 − e^(−rate·t) is j!(n−j−1)!/(n!·rate). For the k fastest
    /// (f_j = 1 below k) it is Rényi's Σ_{j=n−k+1}^{n} 1/j of exponential order statistics.</item>
    /// <item>bimodal: base + delay · Σ_j f_j · C(n, j) (1 − p)^j p^(n−j): delayed exactly when the fast workers do not
    /// close the step (exact; for the k fastest, P(fewer than k fast)).</item>
    /// <item>persistent, throttle, none: deterministic finish times (<see cref="StragglerInjector.ModelledStepSeconds"/>),
    /// closed at the first finish at which the finished set closes — e.g. a fractional code with its slow workers in
    /// distinct groups closes at base, one with a whole group slow at the slow time.</item>
    /// </list>
    /// </summary>
    /// <exception cref="InvalidOperationException">A random model, and <paramref name="closing"/> has no
    /// <see cref="ClosingSets.NotClosingFraction"/> (a code with more than <see cref="ClosingSets.MaxEnumeratedWorkers"/>
    /// workers): estimate it on draws instead.</exception>
    public static double ExpectedClose(StragglerInjector model, ClosingSets closing, int load, double computePerPartition)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(closing);
        ArgumentOutOfRangeException.ThrowIfLessThan(load, 1);
        if (!(computePerPartition >= 0) || double.IsInfinity(computePerPartition))
            throw new ArgumentOutOfRangeException(nameof(computePerPartition), computePerPartition, "must be finite and >= 0");

        int n = closing.Workers;
        double baseTime = load * (model.Unit.TotalSeconds + computePerPartition);
        switch (model.Model)
        {
            case ShiftedExponentialDelay e:
                var f = Fractions(closing);
                double sum = 0;
                for (int j = n - 1; j >= 0; j--) // smallest terms first, for accuracy
                    sum += f[j] / (n - j);
                return baseTime + e.Shift + sum / e.Rate;
            case BimodalDelay b:
                var pmf = BinomialPmf(n, success: 1 - b.P);
                var fractions = Fractions(closing);
                return baseTime + b.Delay * Math.Min(1, Enumerable.Range(0, n + 1).Sum(j => fractions[j] * pmf[j]));
            default:
                var finish = new double[n];
                for (int i = 0; i < n; i++)
                    finish[i] = model.ModelledStepSeconds(i, step: 0, load, computePerPartition);
                return closing.CloseTime(finish);
        }
    }

    /// <summary>E[T_(k)], the expected finish time of the k-th fastest of <paramref name="n"/> workers:
    /// <see cref="ExpectedClose"/> with <see cref="ClosingSets.FastestK"/>.</summary>
    public static double ExpectedKthFastest(StragglerInjector model, int n, int k, int load, double computePerPartition) =>
        ExpectedClose(model, ClosingSets.FastestK(n, k), load, computePerPartition);

    private static IReadOnlyList<double> Fractions(ClosingSets closing) =>
        closing.NotClosingFraction ?? throw new InvalidOperationException(
            $"no exact bound for {closing.Description}: more than {ClosingSets.MaxEnumeratedWorkers} workers to enumerate");

    /// <summary>P(X = j), j = 0 … n, for X ~ Binomial(n, success). Terms are formed in log space so that large n does not
    /// underflow (1 − success)^n before the terms are used.</summary>
    private static double[] BinomialPmf(int n, double success)
    {
        var pmf = new double[n + 1];
        // The degenerate ends have log(0) terms; their answers are exact.
        if (success == 0 || success == 1)
        {
            pmf[success == 0 ? 0 : n] = 1;
            return pmf;
        }
        double logSuccess = Math.Log(success), logFailure = Math.Log(1 - success), logChoose = 0;
        for (int j = 0; j <= n; j++)
        {
            pmf[j] = Math.Exp(logChoose + j * logSuccess + (n - j) * logFailure);
            logChoose += Math.Log((double)(n - j) / (j + 1)); // log C(n, j + 1)
        }
        return pmf;
    }
}
