namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// Decides when measured speeds have left an assignment behind: the same worker's share of the total speed (estimate
/// against the speeds assigned, over the workers judged) differs in the same direction by more than the threshold, for
/// <see cref="Patience"/> consecutive closed steps. Shares, not speeds: a machine-wide slowdown that slows every worker
/// alike needs no new assignment. The threshold is <see cref="Threshold"/> or, when the speeds are noisier, the
/// noise's own level (<see cref="NoiseThreshold"/>), so noise alone does not rebalance. Not thread-safe: the
/// coordinator calls it under the shard's lock.
/// </summary>
/// <param name="threshold">Relative share change that counts as drift, &gt; 0 (default 0.25).</param>
/// <param name="patience">Consecutive drifting steps before a rebalance, ≥ 1 (default 3).</param>
public sealed class ShareDrift(double threshold = ShareDrift.DefaultThreshold, int patience = ShareDrift.DefaultPatience)
{
    /// <summary>
    /// 25%: steps measured on a shared 2-core machine vary by ~10% from one to the next (the straggler benchmark's p50 to
    /// p99 at no injected delay), so a threshold well above that never rebalances on noise, while a co-tenant that halves
    /// a worker's speed (a 50% share change) is caught.
    /// </summary>
    public const double DefaultThreshold = 0.25;

    /// <summary>3 steps: one slow step is a straggler (the codes' business), three in a row a changed machine.</summary>
    public const int DefaultPatience = 3;

    /// <summary>
    /// Noise threshold in standard errors of a median share: 4. Simulated (4 equal workers, every report ±30% uniform
    /// noise, medians of 5 reports): at the fixed 25% with medians of 3 — the setting before — 11 rebalances in 300
    /// steps on noise alone; medians of 5 alone: 2.5; with a noise threshold and the same worker drifting the same way:
    /// 0.01. At ±20% noise (twice the ~10% of this machine's loaded steps) no rebalance in 400 steps and a real 4× drop
    /// rebalanced within 10 steps, for every seed tried (RebalanceStabilityTests); at ±30% the 69% share change of a
    /// 4× drop is too close to 4 standard errors to be told from noise every time.
    /// </summary>
    public const double NoiseZ = 4;

    /// <summary>
    /// A share below a tenth of an equal share (1/n of the workers judged) changes relative to that tenth, not to
    /// itself. Measured (<c>--accelerator cpu+simd+simd+simd</c>, loaded): the ILGPU CPU worker's per-call cost made its
    /// measured speed fall with its share, to a few rows a step at 190-710 rows/s, and the noise of those few rows'
    /// time read as 54-234% share changes: 8 rebalances in 80 steps that moved 1-7% of the rows and shortened no step.
    /// </summary>
    public const double SmallShare = 0.1;

    private (int Worker, bool Up)? _last;
    private int _drifting;

    /// <summary>Relative share change that counts as drift.</summary>
    public double Threshold { get; } = threshold > 0 && double.IsFinite(threshold) ? threshold
        : throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the drift threshold must be a finite number > 0");

    /// <summary>Consecutive drifting steps before a rebalance.</summary>
    public int Patience { get; } = patience >= 1 ? patience
        : throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be at least one step");

    /// <summary>Steps in a row that drifted so far (the same worker, the same way).</summary>
    public int DriftingSteps => _drifting;

    /// <summary>
    /// Observes one closed step; true when the assignment should be recomputed (then the count starts again).
    /// </summary>
    /// <param name="assigned">The speeds the current assignment is proportional to.</param>
    /// <param name="estimates">The current (clamped) speed estimates, same order.</param>
    /// <param name="judged">Per worker, whether its share counts (null: all): not an idle or evicted worker's.</param>
    /// <param name="noise">The speeds' noise threshold (<see cref="NoiseThreshold"/>); the larger of it and
    /// <see cref="Threshold"/> applies.</param>
    public bool Observe(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, IReadOnlyList<bool>? judged = null, double noise = 0)
    {
        var (worker, change) = ShareChange(assigned, estimates, judged);
        if (Math.Abs(change) <= Math.Max(Threshold, noise))
        {
            Reset();
            return false;
        }
        var key = (worker, change > 0);
        _drifting = _last == key ? _drifting + 1 : 1;
        _last = key;
        if (_drifting < Patience) return false;
        Reset();
        return true;
    }

    /// <summary>Largest relative change of any judged worker's share of the total speed (<see cref="SmallShare"/> floors the base).</summary>
    public static double LargestShareChange(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, IReadOnlyList<bool>? judged = null) =>
        Math.Abs(ShareChange(assigned, estimates, judged).Change);

    /// <summary>
    /// The speeds' noise threshold: <see cref="NoiseZ"/> standard errors of the difference of two medians of
    /// <paramref name="window"/> reports (the assigned speed is one too), √(π/2) · σ · √(2 / window), with σ the median
    /// of the workers' relative spreads (their windows' standard deviation over mean; the median, so the one worker
    /// whose speed really changed does not raise it). √(π/2): a median's standard error over a mean's.
    /// </summary>
    public static double NoiseThreshold(IEnumerable<double> spreads, int window)
    {
        var sorted = spreads.Order().ToArray();
        return sorted.Length == 0 ? 0 : NoiseZ * Math.Sqrt(Math.PI / 2) * sorted[sorted.Length / 2] * Math.Sqrt(2.0 / window);
    }

    /// <summary>
    /// Judged worker <paramref name="worker"/>'s signed relative change of its share of the total speed, estimates against
    /// the speeds assigned (<see cref="SmallShare"/> floors the base).
    /// </summary>
    public static double ShareChangeOf(int worker, IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, IReadOnlyList<bool>? judged = null)
    {
        var counted = Counted(assigned, estimates, judged);
        return counted.Contains(worker) ? Change(worker, assigned, estimates, counted) : 0;
    }

    /// <summary>Forgets the drifting steps counted so far: a new version was published (by this rule or another).</summary>
    public void Reset() => (_drifting, _last) = (0, null);

    /// <summary>The judged worker whose share changed most, and its signed relative change.</summary>
    private static (int Worker, double Change) ShareChange(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, IReadOnlyList<bool>? judged)
    {
        var counted = Counted(assigned, estimates, judged);
        var (worker, largest) = (-1, 0.0);
        foreach (int i in counted)
        {
            double change = Change(i, assigned, estimates, counted);
            if (Math.Abs(change) > Math.Abs(largest)) (worker, largest) = (i, change);
        }
        return (worker, largest);
    }

    private static int[] Counted(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, IReadOnlyList<bool>? judged)
    {
        ArgumentNullException.ThrowIfNull(assigned);
        ArgumentNullException.ThrowIfNull(estimates);
        if (assigned.Count != estimates.Count || (judged is not null && judged.Count != assigned.Count))
            throw new ArgumentException("one estimate per assigned speed");
        return Enumerable.Range(0, assigned.Count).Where(i => judged?[i] != false).ToArray();
    }

    private static double Change(int i, IReadOnlyList<double> assigned, IReadOnlyList<double> estimates, int[] counted)
    {
        double a = counted.Sum(j => assigned[j]), e = counted.Sum(j => estimates[j]), floor = SmallShare / counted.Length;
        return (estimates[i] / e - assigned[i] / a) / Math.Max(assigned[i] / a, floor);
    }
}
