namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// Tells whether the version in force gives a worker a share that is off <em>systematically</em>, from the steps computed
/// with it: per step, each worker's share of that step's summed speed against the share it was assigned. Steps are
/// compared with themselves, so what slows every worker alike in a step (a co-tenant's burst on the whole machine)
/// cancels. A worker is off when, over the last steps (at most <see cref="MaxSteps"/>), its median log share ratio is
/// beyond <see cref="MinOffset"/> and <see cref="Z"/> standard errors (from the ratios' median absolute deviation), and
/// its share was on that side of the assigned one in so many steps that a fair coin would do it with probability below
/// <see cref="Alpha"/> (a sign test: exact whatever the noise's distribution). Judged after <see cref="MinSteps"/> steps
/// and every <see cref="CheckEvery"/> steps after, not every step: each look is one more chance for noise to pass. Not
/// thread-safe: the coordinator calls it under the shard's lock.
/// </summary>
/// <remarks>
/// Why it exists (1:2:4 cgroup quotas, loaded, 40 steps with one version): the slowest worker computed 276 ms (median)
/// while the fastest computed 374, every step, because the probes' shares were ~15 % off; the drift rule could not see
/// it — its noise threshold, four standard errors of a difference of two medians of five single reports, was 48-63 % at
/// the 15-20 % step-to-step noise of that load — while the slow worker's per-step share was below the step's mean in 34
/// of 40 steps. Simulated (<see cref="Z"/>, <see cref="Alpha"/>): 4 equal workers at ±20 % uniform noise for 400
/// steps publish a needless version in 2 % of runs; a share 7 % off at 5 % noise (a quiet machine) is found within 40
/// steps in 82 %; a share 15 % off at 17 % noise (the loaded bench) in only 21 % — at that noise 40 steps do not tell
/// such an offset from chance.
/// </remarks>
public sealed class ShareOffset
{
    /// <summary>Steps (each with a report from every judged worker) before a version is first judged: 10.</summary>
    public const int MinSteps = 10;

    /// <summary>Steps between two looks at a version: 10.</summary>
    public const int CheckEvery = 10;

    /// <summary>Most recent steps judged: 30, so a version that was right and then drifted is judged on its recent steps.</summary>
    public const int MaxSteps = 30;

    /// <summary>
    /// Smallest share change worth a new version: 5 % (as <c>AssignmentCoordinator.ProbeTolerance</c>): below it the
    /// slowest worker's excess is within a step's own noise.
    /// </summary>
    public const double MinOffset = 0.05;

    /// <summary>Standard errors the median log share ratio must be away from 0: 3 (with the sign test beside it).</summary>
    public const double Z = 3;

    /// <summary>The sign test's two-sided level: 0.05 %. At 10 steps no count reaches it (10 of 10 is 0.2 %): 20 steps need 18 on one side, 30 need 25.</summary>
    public const double Alpha = 0.0005;

    private readonly SortedDictionary<long, double[]> _steps = [];
    private readonly int _workers;
    private long _lookedAt = -1;   // the newest step of the last look (−1: none yet)

    /// <param name="workers">Number of workers.</param>
    public ShareOffset(int workers) => _workers = workers;

    /// <summary>Records <paramref name="worker"/>'s speed measured on <paramref name="step"/> (rows per second, &gt; 0).</summary>
    public void Add(int worker, long step, double rowsPerSecond)
    {
        if (!(double.IsFinite(rowsPerSecond) && rowsPerSecond > 0)) return;
        if (!_steps.TryGetValue(step, out var speeds))
        {
            _steps[step] = speeds = Enumerable.Repeat(double.NaN, _workers).ToArray();
            while (_steps.Count > 2 * MaxSteps) _steps.Remove(_steps.Keys.First());
        }
        speeds[worker] = rowsPerSecond;
    }

    /// <summary>Forgets every step: a new version was published.</summary>
    public void Clear()
    {
        _steps.Clear();
        _lookedAt = -1;
    }

    /// <summary>
    /// At a look (<see cref="MinSteps"/> steps in which every judged worker reported, then every <see cref="CheckEvery"/>
    /// more), the speeds a new version should have when <paramref name="assigned"/> is off for some judged worker: each
    /// judged worker's median share of the steps times their median summed speed (unjudged workers keep their assigned
    /// speed). Null otherwise.
    /// </summary>
    /// <param name="assigned">The speeds the version's shares are proportional to.</param>
    /// <param name="judged">Per worker, whether its share counts (idle and evicted workers do not).</param>
    /// <param name="largest">At a look, the largest judged share change found (signed, relative to the assigned share
    /// floored as <see cref="ShareDrift.SmallShare"/>), for the log; else 0.</param>
    /// <param name="steps">At a look, the steps judged; else 0.</param>
    public double[]? Proposal(IReadOnlyList<double> assigned, IReadOnlyList<bool> judged, out double largest, out int steps)
    {
        (largest, steps) = (0, 0);
        var counted = Enumerable.Range(0, _workers).Where(i => judged[i]).ToArray();
        if (counted.Length < 2) return null;
        var complete = _steps.Where(s => counted.All(i => !double.IsNaN(s.Value[i]))).ToArray();
        if (complete.Length < MinSteps || complete.Count(s => s.Key > _lookedAt) < CheckEvery) return null;
        _lookedAt = complete[^1].Key;
        var window = complete.TakeLast(MaxSteps).Select(s => s.Value).ToArray();
        steps = window.Length;
        double a = counted.Sum(i => assigned[i]), floor = ShareDrift.SmallShare / counted.Length;
        int needed = SignsNeeded(window.Length);
        var median = new double[_workers];
        bool off = false;
        foreach (int i in counted)
        {
            double share = assigned[i] / a;
            var ratios = window.Select(s => Math.Log(s[i] / counted.Sum(j => s[j]) / share)).ToArray();
            median[i] = Median(ratios);
            double mad = Median(ratios.Select(x => Math.Abs(x - median[i])).ToArray());
            double standardError = Math.Sqrt(Math.PI / 2) * 1.4826 * mad / Math.Sqrt(ratios.Length);
            double change = (Math.Exp(median[i]) - 1) * share / Math.Max(share, floor);
            int above = ratios.Count(x => x > 0), below = ratios.Count(x => x < 0);
            if (Math.Abs(change) > Math.Abs(largest)) largest = change;
            off |= Math.Abs(change) > MinOffset && Math.Abs(median[i]) > Z * standardError && Math.Max(above, below) >= needed;
        }
        if (!off) return null;
        double total = Median(window.Select(s => counted.Sum(j => s[j])).ToArray());
        return Enumerable.Range(0, _workers).Select(i => judged[i] ? assigned[i] / a * Math.Exp(median[i]) * total : assigned[i]).ToArray();
    }

    /// <summary>
    /// The fewest steps of <paramref name="n"/> on one side for a two-sided sign test at <see cref="Alpha"/>
    /// (n + 1 when none suffices).
    /// </summary>
    public static int SignsNeeded(int n)
    {
        double tail = 0;   // P(X ≥ k) for X ~ Binomial(n, 1/2), built from k = n down
        double term = Math.Pow(0.5, n);   // P(X = n)
        for (int k = n; k > n / 2; k--)
        {
            tail += term;
            if (2 * tail > Alpha) return k + 1;
            term *= (double)k / (n - k + 1);   // P(X = k − 1) from P(X = k)
        }
        return n / 2 + 1;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
