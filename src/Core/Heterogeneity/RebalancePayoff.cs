namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// Whether a new assignment pays for itself: the step time it is expected to save, times the steps left, against what a
/// reassignment costs — the steps it slows (the moved rows are loaded before the step that switches, and the first step
/// on them runs on cold pages), measured on this job's own reassignments (<see cref="ObserveStep"/>). A synchronous
/// step waits for the worker that finishes last, so with shares w (fractions) and speeds v it takes about
/// max_i w_i / v_i of the rows' time, and the shares in proportion to v take 1 / Σ v: the gain is the fraction
/// 1 − (1 / Σ v) / max_i (w_i / v_i) of a step. Fixed per-step costs (pull, push, the step's call to the coordinator) are
/// left out: measured 2-10 ms of a 400 ms step in the 1:2:4 cgroup bench (<c>bench hetero</c>'s step anatomy), and about
/// equal across workers. Not thread-safe: the coordinator calls it under the shard's lock.
/// </summary>
public sealed class RebalancePayoff
{
    /// <summary>
    /// A reassignment's cost until one is measured: 2 steps (the step that loads the moved rows and the first step on
    /// them). Measured earlier on this machine, loaded: the first step on new rows took 2.1-3.2 s of kernel time against
    /// 0.3-0.5 s for the steps after it (300,000 rows, cgroup quotas) — the measured cost replaces this guess.
    /// </summary>
    public const double DefaultCostSteps = 2;

    /// <summary>Steps after a switch whose excess over the steps before it is the switch's cost: the loading step and the first on the new rows.</summary>
    public const int MeasuredSteps = 2;

    private readonly RecentMedian _before = new(5);
    private readonly List<double> _after = [];
    private long _switchedAt = -1;
    private int _measured;

    /// <summary>A reassignment's cost, in steps of the time before it: <see cref="DefaultCostSteps"/> until one was measured, then the mean of those measured.</summary>
    public double Cost { get; private set; } = DefaultCostSteps;

    /// <summary>
    /// The fraction of a step that shares in proportion to <paramref name="speeds"/> save over <paramref name="shares"/>
    /// (≥ 0 up to rounding; 0 when no worker both holds rows and counts).
    /// </summary>
    /// <param name="shares">Per worker, the weight of its share in force (0: no rows).</param>
    /// <param name="speeds">Per worker, its measured speed (&gt; 0 where judged).</param>
    /// <param name="judged">Per worker, whether it counts (idle and evicted workers do not).</param>
    public static double StepGain(IReadOnlyList<double> shares, IReadOnlyList<double> speeds, IReadOnlyList<bool> judged)
    {
        var counted = Enumerable.Range(0, shares.Count).Where(i => judged[i] && speeds[i] > 0).ToArray();
        double total = counted.Sum(i => shares[i]);
        if (counted.Length == 0 || !(total > 0)) return 0;
        double now = counted.Max(i => shares[i] / total / speeds[i]), proportional = 1 / counted.Sum(i => speeds[i]);
        return 1 - proportional / now;
    }

    /// <summary>True when saving <paramref name="gain"/> of a step for <paramref name="remainingSteps"/> steps is worth more than a reassignment costs.</summary>
    public bool Pays(double gain, long remainingSteps) => gain * remainingSteps > Cost;

    /// <summary>
    /// Observes closed step <paramref name="step"/>'s wall time: before a switch it is the norm, the first
    /// <see cref="MeasuredSteps"/> from the switch measure its cost (their excess over the norm, in steps, never below 0).
    /// </summary>
    public void ObserveStep(long step, double seconds)
    {
        if (!(double.IsFinite(seconds) && seconds > 0)) return;
        if (_switchedAt < 0 || step < _switchedAt)
        {
            _before.Add(seconds);
            return;
        }
        _after.Add(seconds);
        if (_after.Count < MeasuredSteps) return;
        double cost = _before.Count == 0 ? DefaultCostSteps : Math.Max(0, _after.Sum() / _before.Value - MeasuredSteps);
        Cost = (Cost * _measured + cost) / (_measured + 1);
        _measured++;
        _switchedAt = -1;
        _after.Clear();
        _before.Clear();
    }

    /// <summary>A new version switches at <paramref name="fromStep"/>: its first <see cref="MeasuredSteps"/> steps measure its cost.</summary>
    public void Switched(long fromStep)
    {
        _switchedAt = fromStep;
        _after.Clear();
    }
}
