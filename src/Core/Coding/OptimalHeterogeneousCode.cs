namespace GpuPs.Core.Coding;

/// <summary>
/// The optimal heterogeneity-aware gradient code for one straggler (after Wang et al., "Heterogeneity-aware gradient
/// coding for straggler tolerance", ICDCS 2019; <c>--code hetero-optimal</c>): worker i computes the share
/// l_i = min(1, c_i · T*) of the data, where T* is the least time in which the workers can hold every row twice
/// (Σ l_i = s + 1 = 2; <see cref="Loads"/>), so every worker finishes at T* — the lower bound of any code that survives
/// one straggler — and any one straggler is tolerated with an exact decode.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> The workers, fastest first (ties by id), lay their shares end to end around two copies of the
/// data, [0, 2): worker i covers [P_i, P_i + l_i). Since l_i ≤ 1 every row is covered once in each copy by two distinct
/// workers. The partitions are the pieces all boundaries (mod 1) cut the data into, k ≤ n. Each piece is an edge between
/// its two holders; the holder graph has n vertices and at most n edges.</para>
/// <para><b>Coefficients.</b> Where every component of that graph is bipartite (two tilings of the data whose
/// boundaries line up: balanced groups, equal speeds with an even n, or a capped worker holding all the data) B is 0/1,
/// and the set without straggler w decodes with weights 1 and 0 alternating outwards from w — the group code's exact
/// decode. Otherwise (generic speeds) one worker's share wraps from the first copy into the second and closes one odd
/// cycle of workers, each holding two pieces on it; pieces off the cycle belong to a worker nested inside another's
/// share. B is then built as in Tandon et al.'s Algorithm 2 with a structured H: every row is orthogonal to a vector h
/// with Σ h = 0 (so 1 is in the row space), h = 2, −1, −1, then ±1 around the cycle and 0 off it, so cycle workers
/// carry small integer coefficients (one of them a −1) and every other coefficient is 1. The n rows then span the
/// (n − 1)-dimensional space h^⊥ with one dependency that involves every worker, so any n − 1 of them span it and
/// decode; decode weights are small rationals.</para>
/// <para><b>Guarantee.</b> The constructor checks every responder set exhaustively (<see cref="CodeConditioning.Analyze"/>:
/// all n straggler sets, the float32 error of each decode, the condition number at the worst) and refuses a code above
/// <see cref="CodeConditioning.AcceptanceLimit"/>; measured 3e-8 to 2e-7 (the float32 floor) for the speed mixes in the
/// tests. Against <see cref="HeterogeneousRepetitionCode"/> (groups): equal where the groups balance, faster where they
/// cannot (1 : 1 : 2 : 3: T* = 2/7 of the data per unit speed against the groups' 1/3). Only s = 1 is built: for s ≥ 2
/// the cycle argument does not carry over, and the group code is the exact choice there.</para>
/// </remarks>
public sealed class OptimalHeterogeneousCode : GradientCode
{
    /// <summary>The family name (<c>--code hetero-optimal</c>).</summary>
    public const string FamilyName = "hetero-optimal";

    /// <summary>Two boundaries closer than this fraction of the data are one: a sliver partition would have no rows.</summary>
    private const double BoundaryEpsilon = 1e-9;

    /// <summary>Seed of the random gradients the construction's float32 check decodes.</summary>
    private const ulong CheckSeed = 42;

    /// <summary>Builds the code for workers with the given (clamped) speeds, tolerating one straggler.</summary>
    /// <param name="speeds">Rows per second of each worker, finite and positive (<see cref="Heterogeneity.WorkerSpeeds.Clamp"/>).</param>
    /// <param name="stragglers">s; only 1 is supported.</param>
    /// <exception cref="ArgumentOutOfRangeException">n outside 2..64.</exception>
    /// <exception cref="ArgumentException">s ≠ 1, a speed that is not finite and positive, or (never seen) a
    /// construction whose exhaustive float32 check fails; the message names the group code as the alternative.</exception>
    public OptimalHeterogeneousCode(IReadOnlyList<double> speeds, int stragglers)
        : this(Build(speeds, stragglers), speeds, stragglers)
    {
    }

    private OptimalHeterogeneousCode(Layout layout, IReadOnlyList<double> speeds, int stragglers)
        : base(FamilyName, $"loads {SpeedList.Format(layout.Loads)} of the data for speeds {SpeedList.Format(speeds)}, {layout.Coefficients}",
               stragglers, layout.B, layout.PartitionWeights)
    {
        Loads = layout.Loads;
        var report = CodeConditioning.Analyze(this, CheckSeed);
        if (report.UndecodableSubsets > 0 || !(report.WorstFloat32RelativeError <= CodeConditioning.AcceptanceLimit))
            throw new ArgumentException($"the optimal heterogeneity-aware code for speeds {SpeedList.Format(speeds)} does not decode every straggler set " +
                $"within float32 error {CodeConditioning.AcceptanceLimit:G2} ({report.UndecodableSubsets} undecodable, worst error {report.WorstFloat32RelativeError:G3}); use --code hetero (groups)",
                nameof(speeds));
        Conditioning = report;
    }

    /// <summary>Per worker, the share of the data it computes (Σ = s + 1, each ≤ 1).</summary>
    public IReadOnlyList<double> Loads { get; }

    /// <summary>The exhaustive check the constructor passed.</summary>
    public CodeConditioningReport Conditioning { get; }

    /// <summary>
    /// The least time T in which workers of speeds <paramref name="speeds"/> (data per unit time) can hold every row on
    /// s + 1 distinct workers: Σ min(1, c_i · T) = s + 1 (water-filling: a worker faster than the rest can use holds all
    /// the data once). No code that tolerates s stragglers finishes a step sooner, whatever its coefficients: every row
    /// must be computed by s + 1 distinct workers, and no worker gains from computing a row twice.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than s + 1 workers, or a speed that is not finite and positive.</exception>
    public static double TimeBound(IReadOnlyList<double> speeds, int stragglers)
    {
        ArgumentNullException.ThrowIfNull(speeds);
        if (stragglers < 0 || speeds.Count < stragglers + 1)
            throw new ArgumentException($"{speeds.Count} workers cannot hold every row on s + 1 = {stragglers + 1} of them", nameof(speeds));
        if (speeds.Any(c => !double.IsFinite(c) || c <= 0))
            throw new ArgumentException($"speeds must be finite and > 0 (got {SpeedList.Format(speeds)})", nameof(speeds));
        var capped = new bool[speeds.Count];
        while (true)
        {
            int held = capped.Count(c => c);
            double rest = Enumerable.Range(0, speeds.Count).Where(i => !capped[i]).Sum(i => speeds[i]);
            if (rest == 0) return 1 / speeds.Min();   // n = s + 1: everyone holds all the data
            double t = (stragglers + 1 - held) / rest;
            // Capping every worker past the whole data at once is safe: T only grows as workers are capped.
            var over = Enumerable.Range(0, speeds.Count).Where(i => !capped[i] && speeds[i] * t > 1).ToArray();
            if (over.Length == 0) return t;
            foreach (int i in over) capped[i] = true;
        }
    }

    /// <summary>Per worker, the share min(1, c_i · T*) of the data it computes in the optimum (<see cref="TimeBound"/>).</summary>
    public static double[] LoadsFor(IReadOnlyList<double> speeds, int stragglers)
    {
        double t = TimeBound(speeds, stragglers);
        var loads = speeds.Select(c => Math.Min(1, c * t)).ToArray();
        double scale = (stragglers + 1) / loads.Sum();   // rounding only
        return loads.Select(l => Math.Min(1, l * scale)).ToArray();
    }

    private sealed record Layout(double[,] B, double[] PartitionWeights, double[] Loads, string Coefficients);

    private static Layout Build(IReadOnlyList<double> speeds, int s)
    {
        ArgumentNullException.ThrowIfNull(speeds);
        int n = speeds.Count;
        Validate(n, s);
        if (s != 1)
            throw new ArgumentException($"the optimal heterogeneity-aware code is built for s = 1 (got s = {s}); use --code hetero (groups of equal speed) for s ≥ 2", "stragglers");
        var loads = LoadsFor(speeds, s);

        // Shares end to end around two copies of the data, fastest first.
        var order = Enumerable.Range(0, n).OrderByDescending(i => speeds[i]).ThenBy(i => i).ToArray();
        var start = new double[n];
        double position = 0;
        foreach (int i in order)
        {
            start[i] = position;
            position += loads[i];
        }
        var cuts = new List<double>();
        foreach (double c in start.Select(p => p - Math.Floor(p + BoundaryEpsilon)).Append(0).Order())
            if (cuts.Count == 0 || c - cuts[^1] > BoundaryEpsilon) cuts.Add(Math.Max(0, c));
        cuts.Add(1);   // every cut is frac(p + ε) − ε < 1 − ε: none is within ε of the end
        int k = cuts.Count - 1;

        // Each piece's holders: the worker covering its middle in the first copy and the one in the second.
        var holders = new int[k][];
        for (int j = 0; j < k; j++)
        {
            double mid = (cuts[j] + cuts[j + 1]) / 2;
            holders[j] = [Cover(mid), Cover(mid + 1)];
        }
        // The last share starting at or before x (the shares tile [0, s + 1), so rounding at the end cannot miss one).
        int Cover(double x) => order.Last(i => start[i] <= x);

        var b = new double[n, k];
        foreach (var (j, pair) in holders.Index())
            foreach (int i in pair) b[i, j] = 1;
        string coefficients = "0/1 coefficients (the holder graph is bipartite)";
        if (OddCycle(n, holders) is { } cycle)
        {
            Orthogonalize(b, holders, cycle);
            coefficients = $"an odd cycle of {cycle.Count} workers with coefficients orthogonal to h = 2, -1, -1, ±1 on it";
        }
        var widths = Enumerable.Range(0, k).Select(j => cuts[j + 1] - cuts[j]).ToArray();
        return new Layout(b, widths, loads, coefficients);
    }

    /// <summary>
    /// The pieces of the one odd cycle of the holder graph, in order around it (piece c joins the cycle's worker c to
    /// worker c + 1), or null when every component is bipartite. Found by pruning workers that hold a single
    /// remaining piece; what is left of a non-bipartite graph with at most n edges is one cycle.
    /// </summary>
    private static List<int>? OddCycle(int n, int[][] holders)
    {
        var alive = Enumerable.Repeat(true, holders.Length).ToArray();
        var degree = new int[n];
        foreach (var pair in holders) foreach (int i in pair) degree[i]++;
        for (bool pruned = true; pruned;)
        {
            pruned = false;
            for (int j = 0; j < holders.Length; j++)
                if (alive[j] && holders[j].Any(i => degree[i] == 1))
                {
                    alive[j] = false;
                    foreach (int i in holders[j]) degree[i]--;
                    pruned = true;
                }
        }
        var remaining = Enumerable.Range(0, holders.Length).Where(j => alive[j]).ToList();
        if (remaining.Count == 0) return null;
        if (Enumerable.Range(0, n).Any(i => degree[i] is not (0 or 2)))
            throw new ArgumentException("the holder graph has more than one cycle (boundaries coincide); use --code hetero (groups)", "speeds");
        // Walk the cycle from one of its pieces.
        var cycle = new List<int> { remaining[0] };
        int worker = holders[remaining[0]][1];
        while (true)
        {
            int next = remaining.First(j => j != cycle[^1] && holders[j].Contains(worker) && (!cycle.Contains(j) || j == cycle[0]));
            if (next == cycle[0]) break;
            cycle.Add(next);
            worker = holders[next][0] == worker ? holders[next][1] : holders[next][0];
        }
        if (cycle.Count != remaining.Count)
            throw new ArgumentException("the holder graph has more than one cycle (boundaries coincide); use --code hetero (groups)", "speeds");
        return cycle.Count % 2 == 1 ? cycle : null;   // an even cycle is bipartite: 0/1 decodes
    }

    /// <summary>
    /// Makes every row of B orthogonal to h (2, −1, −1, then +1, −1, … around the odd cycle, 0 elsewhere, Σ h = 0):
    /// a cycle worker holding cycle pieces p and q gets (|h_q|, |h_p|) on them when their signs differ, (h_q, −h_p)
    /// when they agree (once around an odd cycle); its other pieces and every other worker keep 1, where h is 0.
    /// </summary>
    private static void Orthogonalize(double[,] b, int[][] holders, List<int> cycle)
    {
        var h = new double[holders.Length];
        for (int c = 0; c < cycle.Count; c++) h[cycle[c]] = c == 0 ? 2 : c <= 2 ? -1 : c % 2 == 1 ? 1 : -1;
        for (int c = 0; c < cycle.Count; c++)
        {
            int p = cycle[c], q = cycle[(c + 1) % cycle.Count];
            int worker = holders[p].Intersect(holders[q]).First();
            (b[worker, p], b[worker, q]) = Math.Sign(h[p]) != Math.Sign(h[q]) ? (Math.Abs(h[q]), Math.Abs(h[p])) : (h[q], -h[p]);
        }
    }
}
