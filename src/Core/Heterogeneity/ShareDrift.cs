namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// Decides when measured speeds have left an assignment behind: a worker's share of the total speed (estimate against
/// the speeds assigned) differs by more than <see cref="Threshold"/> relative, for <see cref="Patience"/> consecutive
/// closed steps. Shares, not speeds: a machine-wide slowdown that slows every worker alike needs no new assignment.
/// Not thread-safe: the coordinator calls it under the shard's lock.
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

    private int _drifting;

    /// <summary>Relative share change that counts as drift.</summary>
    public double Threshold { get; } = threshold > 0 && double.IsFinite(threshold) ? threshold
        : throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the drift threshold must be a finite number > 0");

    /// <summary>Consecutive drifting steps before a rebalance.</summary>
    public int Patience { get; } = patience >= 1 ? patience
        : throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be at least one step");

    /// <summary>Steps in a row that drifted so far.</summary>
    public int DriftingSteps => _drifting;

    /// <summary>
    /// Observes one closed step; true when the assignment should be recomputed (then the count starts again).
    /// </summary>
    /// <param name="assigned">The speeds the current assignment is proportional to.</param>
    /// <param name="estimates">The current (clamped) speed estimates, same order.</param>
    public bool Observe(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates)
    {
        ArgumentNullException.ThrowIfNull(assigned);
        ArgumentNullException.ThrowIfNull(estimates);
        if (assigned.Count != estimates.Count) throw new ArgumentException("one estimate per assigned speed");
        _drifting = Drifts(assigned, estimates) ? _drifting + 1 : 0;
        if (_drifting < Patience) return false;
        _drifting = 0;
        return true;
    }

    /// <summary>Largest relative change of any worker's share of the total speed.</summary>
    public static double LargestShareChange(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates)
    {
        double a = assigned.Sum(), e = estimates.Sum(), largest = 0;
        for (int i = 0; i < assigned.Count; i++)
            largest = Math.Max(largest, Math.Abs(estimates[i] / e / (assigned[i] / a) - 1));
        return largest;
    }

    private bool Drifts(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates) =>
        LargestShareChange(assigned, estimates) > Threshold;
}
