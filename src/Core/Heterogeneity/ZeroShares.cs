namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// One worker's measured step costs, as <see cref="ZeroShares"/> weighs them.
/// </summary>
/// <param name="Speed">Rows per second of its kernels: the clamped speed its share is proportional to, &gt; 0.</param>
/// <param name="ShareSeconds">Kernel seconds of one of its steps at the last nonzero share it computed (0: not measured
/// yet; such a worker is never given a zero share).</param>
/// <param name="FixedSeconds">Seconds a step costs it whatever its rows: the parameters onto its device, the gradient off
/// it, its push, and the pull's transfer (taken as long as the push: the pull's own time includes waiting for the others).</param>
public readonly record struct StepCost(double Speed, double ShareSeconds, double FixedSeconds)
{
    /// <summary>For logs: "kernels 812 ms + fixed 4.1 ms" (kernels "unmeasured" while <see cref="ShareSeconds"/> is 0).</summary>
    public override string ToString() =>
        $"kernels {(ShareSeconds > 0 ? $"{ShareSeconds * 1e3:G3} ms" : "unmeasured")} + fixed {FixedSeconds * 1e3:G3} ms";
}

/// <summary>
/// The zero-share rule of a proportional BSP job: a worker whose share would not shorten the step gets no rows. With
/// shares in proportion to speed over the active set S, every worker computes for R / V_S seconds (R rows a step, V_S
/// their summed speed) and the step takes about R / V_S + max over S of the fixed costs. Worker j's own step is its
/// fixed cost plus its share's kernel time, as measured; when that is at least the step the others would take without
/// it, R / V_{S∖j} + max over S∖j of the fixed costs, its rows only hold the step up, and it gets none — with a margin
/// against the noise of the measurements (<see cref="Margin"/>).
/// </summary>
/// <remarks>
/// Measured on an H100 beside three SIMD CPU workers (docs/benchmarks.md, "CUDA + 3 SIMD"): at 0.1 % of the rows each,
/// the CPU workers still took 10 ms a step against the GPU's 5 — their fixed cost, not their share, set the step. The
/// others' kernel time is predicted from their measured speeds, which include their own fixed kernel costs at their
/// current share, so a larger share is predicted no faster than it is: the rule errs toward keeping a worker. Workers
/// are judged slowest first and the rule stops at the first that helps, so the fastest worker always keeps rows. Pure and
/// thread-safe.
/// </remarks>
public static class ZeroShares
{
    /// <summary>
    /// A worker with rows is given a zero share only when its own step is at least (1 + 0.25) of the step without it,
    /// and a worker at a zero share gets rows back as soon as its own step is below the step without it: between the two
    /// a worker keeps what it has, so one at the boundary is not given rows and taken them again at every version (an
    /// idle worker's costs are those of its last share, never re-measured while idle). Not more: the step without a
    /// worker is predicted from the others' speeds measured beside it, and on a shared CPU its compute slowed them —
    /// three 200×-throttled workers beside a fast one on this 2-core machine: the fast worker's measured speed predicted
    /// 53 ms alone, it took 30, and at a margin of 0.5 the slow workers kept rows that cost 1.5× a step.
    /// </summary>
    public const double Margin = 0.25;

    /// <summary>
    /// Only a worker at least 10× slower than the fastest live worker is a candidate: where compute is small beside the
    /// fixed costs, the rule compares fixed costs alone, and on this machine at load 30 two equal workers' medians of
    /// three steps' fixed costs differed by more than 50% (one of them was idled in one run of two). The workers
    /// zero shares are for are 100-2,000× slower (CPU workers beside an H100); a worker as fast as the others but on a
    /// slow link keeps its share (a limitation: its link sets the step).
    /// </summary>
    public const double MinSpeedRatio = 10;

    /// <summary>
    /// Per worker, whether it gets a zero share: the workers that are not <paramref name="live"/> (evicted), and the
    /// slowest live workers for which <c>FixedSeconds + ShareSeconds ≥ (1 + Margin) · (R / V_rest + max FixedSeconds_rest)</c>
    /// (an idle worker: ≥ the step without it), judged slowest first among those at least <see cref="MinSpeedRatio"/>×
    /// slower than the fastest, stopping at the first that keeps rows. At least one live worker keeps rows; with no live
    /// worker, nobody is idled.
    /// </summary>
    /// <param name="costs">One per worker.</param>
    /// <param name="live">One per worker: false for an evicted worker.</param>
    /// <param name="stepRows">R, rows of a whole step (0: unknown; then only evicted workers are idled).</param>
    /// <param name="idleBefore">The workers at a zero share in the version in force (null: none); they keep it unless
    /// their own step is below the step without them, where a worker with rows needs (1 + <see cref="Margin"/>) of it
    /// to lose them.</param>
    /// <exception cref="ArgumentException">Lengths differ, or a speed is not finite and positive.</exception>
    public static bool[] Idle(IReadOnlyList<StepCost> costs, IReadOnlyList<bool> live, double stepRows, IReadOnlyList<int>? idleBefore = null)
    {
        ArgumentNullException.ThrowIfNull(costs);
        ArgumentNullException.ThrowIfNull(live);
        if (costs.Count != live.Count) throw new ArgumentException($"{costs.Count} costs for {live.Count} workers");
        if (costs.Any(c => !(double.IsFinite(c.Speed) && c.Speed > 0)))
            throw new ArgumentException("every speed must be finite and > 0 (clamp them first: WorkerSpeeds.Clamp)", nameof(costs));
        var order = Enumerable.Range(0, costs.Count).Where(i => live[i]).OrderBy(i => costs[i].Speed).ThenBy(i => i).ToList();
        var idle = live.Select(l => !l).ToArray();
        if (order.Count == 0) return new bool[costs.Count];
        double fastest = costs[order[^1]].Speed;
        for (int a = 0; a < order.Count - 1 && stepRows > 0; a++)
        {
            var (j, rest) = (order[a], order.Skip(a + 1).ToArray());
            if (costs[j].Speed * MinSpeedRatio > fastest) break;
            double bound = idleBefore?.Contains(j) == true ? 1 : 1 + Margin;
            if (!(costs[j].ShareSeconds > 0) || OwnStep(costs[j]) < bound * ProportionalStep(costs, rest, stepRows)) break;
            idle[j] = true;
        }
        return idle;
    }

    /// <summary>Worker <paramref name="cost"/>'s own step: its fixed cost plus its share's kernel time.</summary>
    public static double OwnStep(StepCost cost) => cost.FixedSeconds + cost.ShareSeconds;

    /// <summary>The step <paramref name="active"/> take with shares in proportion to their speeds: R / V + the largest fixed cost.</summary>
    public static double ProportionalStep(IReadOnlyList<StepCost> costs, IReadOnlyCollection<int> active, double stepRows) =>
        stepRows / active.Sum(i => costs[i].Speed) + active.Max(i => costs[i].FixedSeconds);
}
