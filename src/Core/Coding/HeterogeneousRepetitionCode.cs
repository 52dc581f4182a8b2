namespace GpuPs.Core.Coding;

/// <summary>
/// A heterogeneity-aware gradient code (after Wang et al., "Heterogeneity-aware gradient coding for straggler
/// tolerance", ICDCS 2019): each worker's load is proportional to its speed while any s stragglers are tolerated, with
/// the exact float32 guarantee of fractional repetition. Workers are split into s + 1 groups of about equal total speed
/// (longest-processing-time greedy: fastest first, each into the group with the least speed so far); every group covers
/// the whole data set once, each member holding a contiguous share proportional to its speed, so a group finishes in
/// rows / (its total speed) and, balanced, every worker finishes at (s + 1) · rows / Σ speeds — the bound of
/// proportional coding. Any s stragglers leave at least one group whole, and that group's plain pushes sum to the
/// full gradient: decode weights are 1 on it and 0 elsewhere.
/// </summary>
/// <remarks>
/// <para>The partitions are the pieces all groups' boundaries cut the data into (k ≤ n − s, sized by
/// <see cref="IGradientCode.PartitionWeights"/>), and B[i, j] = 1 where worker i's share contains piece j. Each row is an
/// interval of pieces, so B has the consecutive-ones property and is totally unimodular: any decodable set's basic
/// least-squares solution has integer weights, whatever set the decoder meets (measured by
/// <see cref="CodeConditioning.Analyze"/>: float32 error at the 1e-7 floor).</para>
/// <para>The price of exactness is group balance: a step waits at worst for the slower group. With speeds 1 : 2 : 4 and
/// s = 1 the groups are {4} and {1, 2}, rows / 3, which is the optimum (2 · rows / 7 would need the fast worker to hold
/// 8/7 of the data; <see cref="OptimalHeterogeneousCode.TimeBound"/>); with 1 : 1 : 2 : 3 the best groups are 4 and 3,
/// rows / 3 against the optimum 2 · rows / 7 (1.17×). Equal speeds with
/// (s + 1) | n give the fractional repetition code.</para>
/// <para>Against Wang et al.'s scheme (checked for issue 10): both give each worker a load in proportion to its speed,
/// hold every row on s + 1 distinct workers and tolerate every set of s stragglers for any speed vector (here: s
/// stragglers meet at most s of the s + 1 disjoint groups; exhaustively tested for n ≤ 10 with the float32 check).
/// They differ in what a step waits for. Their allocation spreads the s + 1 copies of each partition over workers
/// without grouping them and decodes with a general (not 0/1) linear code, so every worker finishes at (s + 1) · rows / Σ speeds
/// whenever no speed exceeds Σ speeds / (s + 1) — the optimum they prove for accurate speed estimates. Ours fixes the
/// copies into s + 1 disjoint groups, which buys 0/1 decode weights (exact in float32, no conditioning to watch, and a
/// group decodes alone before n − s workers answered) at the price of LPT group imbalance: a step waits for
/// rows / (the slowest group's speed), at most (s + 1) · rows / (Σ speeds − s · max speed). The two coincide where the
/// groups balance (equal speeds with (s + 1) | n; the 10-worker mix 1,1,2,2,2,4,4,8,8,8 at s = 1, groups 20 and 20);
/// for 1 : 1 : 2 : 3 at s = 1 ours waits 7/6 of their time (<see cref="OptimalHeterogeneousCode"/> builds theirs for s = 1). Their robust variant for inaccurate estimates is not built:
/// here the coordinator re-measures and rebalances instead (<see cref="Heterogeneity.ShareDrift"/>).</para>
/// </remarks>
public sealed class HeterogeneousRepetitionCode : GradientCode
{
    /// <summary>Two boundaries closer than this fraction of the data are one: a sliver partition would have no rows.</summary>
    private const double BoundaryEpsilon = 1e-9;

    /// <summary>Builds the code for workers with the given (clamped) speeds.</summary>
    /// <param name="speeds">Rows per second of each worker, finite and positive (<see cref="Heterogeneity.WorkerSpeeds.Clamp"/>).</param>
    /// <param name="stragglers">s, 0 ≤ s &lt; n.</param>
    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64 or s outside 0..n − 1.</exception>
    /// <exception cref="ArgumentException">A speed is not finite and positive.</exception>
    public HeterogeneousRepetitionCode(IReadOnlyList<double> speeds, int stragglers)
        : this(Build(speeds, stragglers), speeds, stragglers)
    {
    }

    private HeterogeneousRepetitionCode(Layout layout, IReadOnlyList<double> speeds, int stragglers)
        : base("hetero", $"{stragglers + 1} groups of about equal speed, shares in proportion to speeds {SpeedList.Format(speeds)}",
               stragglers, layout.B, layout.PartitionWeights)
    {
        GroupOf = layout.GroupOf;
    }

    /// <summary>GroupOf[i]: the group (0..s) worker i belongs to; any one whole group decodes.</summary>
    public IReadOnlyList<int> GroupOf { get; }

    private sealed record Layout(double[,] B, double[] PartitionWeights, int[] GroupOf);

    private static Layout Build(IReadOnlyList<double> speeds, int s)
    {
        ArgumentNullException.ThrowIfNull(speeds);
        int n = speeds.Count;
        Validate(n, s);
        for (int i = 0; i < n; i++)
            if (!double.IsFinite(speeds[i]) || speeds[i] <= 0)
                throw new ArgumentException($"speeds must be finite and > 0 (worker {i} has {speeds[i]}); clamp reported speeds first", nameof(speeds));

        // Longest processing time first: deterministic (ties by worker id, then by group index) on every node.
        var groupOf = new int[n];
        var groupSpeed = new double[s + 1];
        foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => speeds[i]).ThenBy(i => i))
        {
            int g = 0;
            for (int l = 1; l <= s; l++) if (groupSpeed[l] < groupSpeed[g]) g = l;
            groupOf[i] = g;
            groupSpeed[g] += speeds[i];
        }

        // Each member's share of its group's pass over the data, as [start, end) fractions, members in id order.
        var start = new double[n];
        var end = new double[n];
        var covered = new double[s + 1];
        for (int i = 0; i < n; i++)
        {
            int g = groupOf[i];
            start[i] = covered[g];
            covered[g] += speeds[i];
            end[i] = covered[g];
        }
        var boundaries = new List<double> { 0, 1 };
        for (int i = 0; i < n; i++)
        {
            start[i] /= groupSpeed[groupOf[i]];
            end[i] = end[i] >= groupSpeed[groupOf[i]] ? 1 : end[i] / groupSpeed[groupOf[i]];
            boundaries.Add(end[i]);
        }
        boundaries.Sort();
        var cuts = new List<double> { 0 };
        foreach (double c in boundaries)
            if (c - cuts[^1] > BoundaryEpsilon) cuts.Add(c);
        cuts[^1] = 1;

        int k = cuts.Count - 1;
        var b = new double[n, k];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
        {
            double mid = (cuts[j] + cuts[j + 1]) / 2;
            if (mid > start[i] && mid < end[i]) b[i, j] = 1;
        }
        var weights = Enumerable.Range(0, k).Select(j => cuts[j + 1] - cuts[j]).ToArray();
        return new Layout(b, weights, groupOf);
    }
}
