namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The analytic reference the straggler benchmark compares against: the expected time at which a step has heard from
/// its k fastest of n workers, under the time model of <see cref="StragglerInjector"/>
/// (T_i = load × (unit + compute) + delay_i). Waiting for all n is the BSP cost; a code tolerating s stragglers waits
/// for n − s workers, each holding s + 1 partitions.
/// </summary>
public static class OrderStatisticBound
{
    /// <summary>
    /// E[T_(k)], the expected finish time in seconds of the k-th fastest of <paramref name="n"/> workers, each with
    /// <paramref name="load"/> partitions costing <paramref name="computePerPartition"/> seconds of real compute plus the
    /// model's unit; base = load × (unit + c).
    /// <list type="bullet">
    /// <item>shifted exponential: base + shift + (1/rate) · Σ_{j=n−k+1}^{n} 1/j (Rényi's representation of exponential order statistics);</item>
    /// <item>bimodal: base + delay · P(fewer than k of n workers are fast), exact binomial;</item>
    /// <item>persistent: base if k ≤ n − count, else factor × base;</item>
    /// <item>throttle: as persistent, with the factor applied to the real compute only (the unit is a sleep, not throttled);</item>
    /// <item>none: base.</item>
    /// </list>
    /// </summary>
    public static double ExpectedKthFastest(StragglerInjector model, int n, int k, int load, double computePerPartition)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, n);
        ArgumentOutOfRangeException.ThrowIfLessThan(load, 1);
        if (!(computePerPartition >= 0) || double.IsInfinity(computePerPartition))
            throw new ArgumentOutOfRangeException(nameof(computePerPartition), computePerPartition, "must be finite and >= 0");

        double unit = model.Unit.TotalSeconds, compute = load * computePerPartition, baseTime = load * unit + compute;
        return model.Model switch
        {
            ShiftedExponentialDelay e => baseTime + e.Shift + HarmonicTail(n, k) / e.Rate,
            BimodalDelay b => baseTime + b.Delay * FewerThanKSucceed(n, k, success: 1 - b.P),
            PersistentStragglers p => k <= n - p.Count ? baseTime : p.Factor * baseTime,
            ThrottledWorkers t => k <= n - t.Count ? baseTime : load * unit + t.Factor * compute,
            _ => baseTime,
        };
    }

    /// <summary>Σ_{j=n−k+1}^{n} 1/j: the expected k-th smallest of n i.i.d. Exp(1) draws.</summary>
    private static double HarmonicTail(int n, int k)
    {
        double sum = 0;
        for (int j = n; j > n - k; j--) // smallest terms first, for accuracy
            sum += 1.0 / j;
        return sum;
    }

    /// <summary>P(X &lt; k) for X ~ Binomial(n, success). Terms are formed in log space so that large n does not
    /// underflow (1 − success)^n before the sum is taken.</summary>
    private static double FewerThanKSucceed(int n, int k, double success)
    {
        // The degenerate ends have log(0) terms; their answers are exact.
        if (success == 0)
            return 1;
        if (success == 1)
            return 0; // k ≤ n, and all n succeed
        double logSuccess = Math.Log(success), logFailure = Math.Log(1 - success), logChoose = 0, p = 0;
        for (int j = 0; j < k; j++)
        {
            p += Math.Exp(logChoose + j * logSuccess + (n - j) * logFailure);
            logChoose += Math.Log((double)(n - j) / (j + 1)); // log C(n, j + 1)
        }
        return Math.Min(p, 1);
    }
}
