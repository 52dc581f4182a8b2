using System.Collections.Concurrent;
using System.Numerics;

namespace GpuPs.Core.Coding;

/// <summary>
/// Cyclic repetition code: worker i holds partitions i, i+1, …, i+s (mod n); B is exactly 0 outside
/// that window, and every (n−s)-subset of workers decodes. Two constructions, chosen by parity:
/// <list type="bullet">
/// <item><b>n + s odd (or s = 0): cyclic-MDS</b> (Raviv, Tamo, Tandon, Dimakis, ICML 2018). Row i is the
/// coefficient vector of xⁱ·p(x) mod (xⁿ − 1), where p(x) = Π_{j∈J}(x − ωʲ), ω = e^{2πi/n}, and J is
/// the s consecutive frequencies (n−s+1)/2 … (n+s−1)/2 centred on n/2. J is closed under j ↦ n−j, so
/// p is real; its roots are consecutive, so the row space is a Reed–Solomon (MDS) code: any n−s rows
/// are independent and span it, and it contains 1 because frequency 0 ∉ J. Measured worst float32
/// decode error ≤ 3e-6 for n ≤ 16, s ≤ 4 (PAPERS.md).</item>
/// <item><b>n + s even: best random draw</b> of Tandon et al.'s Algorithm 2. H is an s×n Gaussian
/// matrix with zero row sums; row i of B spans the null space of H's columns i … i+s, so BHᵀ = 0 and
/// every (n−s)-subset spans null(H) ∋ 1 with probability 1. <see cref="SeedDraws"/> seeds are tried and
/// the one whose worst responder set has the smallest condition number is kept (over all (n−s)-subsets
/// when there are at most <see cref="SearchSubsetLimit"/>, else a fixed sample; fewer for n &gt; 16).
/// No real B with this support comes from the MDS recipe here: a conjugate-closed set of s consecutive
/// frequencies centred on n/2 exists only when n + s is odd. Conditioning is worse and must be checked
/// with <see cref="CodeConditioning.Analyze"/>.</item>
/// </list>
/// Every row is scaled to Euclidean norm √(s+1) (the norm of a 0/1 row holding s+1 partitions) with
/// a positive row sum, so condition numbers and weights compare directly with the other codes.
/// Constructions are cached per (n, s) for the process: the random search costs ≤ 0.4 s for n ≤ 12
/// and seconds beyond n = 16, and its result is poor there anyway (float32 error 1e-4 to 2e-3 for
/// n = 16…33): prefer an (n, s) with n + s odd, e.g. one more tolerated straggler.
/// </summary>
public sealed class CyclicRepetitionCode : GradientCode
{
    /// <summary>Seeds (1 … SeedDraws) tried by the random construction.</summary>
    public const int SeedDraws = 64;

    /// <summary>
    /// Most responder sets per seed in the random search for n ≤ 16; beyond that the limit shrinks as
    /// (16/n)³ (floor 64) to bound the O(n³) singular-value work: measured on 2 cores, the full search
    /// takes ≤ 0.4 s for n ≤ 14, 3.4 s at n = 16, s = 4 (all 1,820 sets), but 158 s at n = 64, s = 2
    /// with all 2,016 sets. Sampling misses the true worst set (n = 16, s = 4: sampled 9e3 vs 1.6e5).
    /// </summary>
    public const int SearchSubsetLimit = 5000;

    private static int SearchSubsets(int n) =>
        n <= 16 ? SearchSubsetLimit : Math.Max(64, (int)(SearchSubsetLimit * Math.Pow(16.0 / n, 3)));

    private sealed record Built(double[,] B, string Description, ulong? Seed);

    private static readonly ConcurrentDictionary<(int, int), Built> Cache = new();

    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64 or s outside 0..n−1.</exception>
    public CyclicRepetitionCode(int workers, int stragglers)
        : this(stragglers, Cache.GetOrAdd((workers, stragglers), key => Build(key.Item1, key.Item2)))
    {
    }

    private CyclicRepetitionCode(int stragglers, Built built)
        : base("cyclic", built.Description, stragglers, built.B)
    {
        Seed = built.Seed;
    }

    /// <summary>True for the cyclic-MDS construction (n + s odd or s = 0).</summary>
    public bool IsCyclicMds => Seed is null;

    /// <summary>Seed of the random construction; null for cyclic-MDS.</summary>
    public ulong? Seed { get; }

    private static Built Build(int n, int s)
    {
        Validate(n, s);
        if (s == 0 || (n + s) % 2 == 1)
            return new Built(Circulant(n, s, MdsPolynomial(n, s)),
                $"cyclic-MDS: rows are shifts of p(x) with roots at frequencies {(n - s + 1) / 2}..{(n + s - 1) / 2} of {n}", null);

        var (masks, exhaustive) = ResponderSubsets.Select(n, n - s, SearchSubsets(n), SearchSubsets(n), seed: 0);
        double[,]? bestB = null;
        double bestCond = double.PositiveInfinity;
        ulong bestSeed = 0;
        for (ulong seed = 1; seed <= SeedDraws; seed++)
        {
            var b = RandomNullSpaceDraw(n, s, seed);
            if (b is null) continue;
            double worst = CodeConditioning.WorstConditionNumber(b, masks, abandonAbove: bestCond);
            if (worst < bestCond) (bestB, bestCond, bestSeed) = (b, worst, seed);
        }
        if (bestB is null)
            throw new InvalidOperationException($"No random cyclic construction for n = {n}, s = {s} had every responder set full rank.");
        return new Built(bestB,
            $"random null-space (Tandon Alg. 2), seed {bestSeed} best of {SeedDraws}: worst condition {bestCond:G3} over " +
            (exhaustive ? $"all {masks.Count}" : $"{masks.Count} sampled") + $" {n - s}-subsets", bestSeed);
    }

    /// <summary>Real coefficients p_0 … p_s of Π_{j∈J}(x − ωʲ), J centred on n/2 (requires n + s odd or s = 0).</summary>
    private static double[] MdsPolynomial(int n, int s)
    {
        var p = new Complex[] { 1 };
        for (int j = (n - s + 1) / 2; j <= (n + s - 1) / 2; j++)
        {
            var root = Complex.FromPolarCoordinates(1, 2 * Math.PI * j / n);
            var next = new Complex[p.Length + 1];
            for (int d = 0; d < p.Length; d++)
            {
                next[d + 1] += p[d];
                next[d] -= root * p[d];
            }
            p = next;
        }
        // J is conjugate-closed, so the imaginary parts are rounding noise. No real part vanishes, so
        // the support is the full window: up to a unit factor p_k is a Gaussian binomial [s k]_q at
        // q = ω, a product of (1 − q^m)/(1 − q^i) with 1 ≤ m, i ≤ s < n, none of which is 0.
        return p.Select(c => c.Real).ToArray();
    }

    private static double[,] Circulant(int n, int s, double[] coefficients)
    {
        var b = new double[n, n];
        for (int i = 0; i < n; i++)
        for (int d = 0; d <= s; d++)
            b[i, (i + d) % n] = coefficients[d];
        NormalizeRows(b, n, s);
        return b;
    }

    /// <summary>One draw of Tandon et al.'s Algorithm 2, or null if some window's null space is not
    /// one-dimensional with full support (probability 0, checked anyway).</summary>
    private static double[,]? RandomNullSpaceDraw(int n, int s, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var h = new double[s, n];
        for (int r = 0; r < s; r++)
        {
            double sum = 0;
            for (int c = 0; c < n - 1; c++) sum += h[r, c] = rng.NextGaussian();
            h[r, n - 1] = -sum;
        }

        var b = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            // Row i = (1, x) on columns i … i+s with H[:, i+1 … i+s]·x = −H[:, i].
            var square = new double[s, s];
            var rhs = new double[s];
            for (int r = 0; r < s; r++)
            {
                rhs[r] = -h[r, i];
                for (int d = 1; d <= s; d++) square[r, d - 1] = h[r, (i + d) % n];
            }
            var (x, rank) = DenseMatrix.SolveLeastSquares(square, rhs, GradientDecoder.RankTolerance);
            if (rank < s || x.Any(v => v == 0)) return null;
            b[i, i] = 1;
            for (int d = 1; d <= s; d++) b[i, (i + d) % n] = x[d - 1];
        }
        NormalizeRows(b, n, s);
        return b;
    }

    private static void NormalizeRows(double[,] b, int n, int s)
    {
        for (int i = 0; i < n; i++)
        {
            double norm = 0, sum = 0;
            for (int j = 0; j < n; j++) (norm, sum) = (norm + b[i, j] * b[i, j], sum + b[i, j]);
            double scale = Math.Sqrt((s + 1) / norm) * (sum < 0 ? -1 : 1);
            for (int j = 0; j < n; j++) b[i, j] *= scale;
        }
    }
}
