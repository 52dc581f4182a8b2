using System.Collections.Concurrent;
using System.Numerics;

namespace GpuPs.Core.Coding;

/// <summary>
/// Cyclic repetition code: worker i holds partitions i, i+1, …, i+s (mod n); B is exactly 0 outside
/// that window, and every (n−s)-subset of workers decodes. Each candidate construction is checked exhaustively by
/// <see cref="CodeConditioning"/> and used only when its worst float32 decode error over every responder set is below
/// <see cref="CodeConditioning.AcceptanceLimit"/>; in this order:
/// <list type="number">
/// <item><b>n + s odd (or s = 0): cyclic-MDS</b> (Raviv, Tamo, Tandon, Dimakis, ICML 2018). Row i is the
/// coefficient vector of xⁱ·p(x) mod (xⁿ − 1), where p(x) = Π_{j∈J}(x − ωʲ), ω = e^{2πi/n}, and J is
/// the s consecutive frequencies (n−s+1)/2 … (n+s−1)/2 centred on n/2. J is closed under j ↦ n−j, so
/// p is real; its roots are consecutive, so the row space is a Reed–Solomon (MDS) code: any n−s rows
/// are independent and span it, and it contains 1 because frequency 0 ∉ J. Measured worst float32
/// error 9e-8 (n = 5, s = 2), 3e-6 (n = 32, s = 3), up to 7.3e-6 (n = 29, s = 26) among the codes built for n ≤ 32.</item>
/// <item><b>n + s even: the best of <see cref="SeedDraws"/> random draws</b> of Tandon et al.'s Algorithm 2 (H an s×n
/// Gaussian matrix with zero row sums; row i of B spans the null space of H's columns i … i+s), chosen by its exact
/// worst float32 error. No real MDS construction exists here (a conjugate-closed set of s consecutive frequencies
/// centred on n/2 needs n + s odd). Good for small n, hopeless beyond n ≈ 16.</item>
/// <item><b>n + s even, when no draw qualifies: cyclic-MDS for s + 1 stragglers</b> (n + s + 1 is odd): each worker holds
/// one more partition (load s + 2 instead of s + 1) and the code tolerates s + 1 stragglers, so <see cref="GradientCode.Stragglers"/>
/// is s + 1. Measured 1e-7 (n = 28, s = 26), 3e-6 (n = 32, s = 2), up to 7.3e-6 (n = 29, s = 25) for n ≤ 32.</item>
/// </list>
/// When none qualifies the constructor refuses with the alternatives (fractional repetition where (s+1) | n, or an s
/// with n + s odd). Other candidates measured and rejected: real cyclic codes with non-consecutive conjugate-closed
/// roots decode for some n but have dependent (n−s)-sets, so smaller responder sets lose their unique weights.
/// Every row is scaled to Euclidean norm √(load) with a positive row sum, so condition numbers and weights compare
/// directly with the other codes. Constructions (and refusals) are cached per (n, s) for the process (tests that pin the
/// construction bypass the cache: <see cref="Construct"/>).
/// </summary>
public sealed class CyclicRepetitionCode : GradientCode
{
    /// <summary>Seeds (1 … SeedDraws) tried by the random construction.</summary>
    public const int SeedDraws = 64;

    private sealed record Built(double[,]? B, int Stragglers, string Description, ulong? Seed, string? Refusal);

    private static readonly ConcurrentDictionary<(int, int), Built> Cache = new();

    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64 or s outside 0..n−1.</exception>
    /// <exception cref="ArgumentException">No construction keeps the float32 decode error within
    /// <see cref="CodeConditioning.Float32Tolerance"/> for this (n, s); the message names what would work.</exception>
    public CyclicRepetitionCode(int workers, int stragglers)
        : this(Cache.GetOrAdd((workers, stragglers), key => Build(key.Item1, key.Item2)))
    {
    }

    /// <summary>
    /// The construction run afresh, past the process cache. The cache is there so that every node gets the same B
    /// cheaply (the random construction checks up to <see cref="SeedDraws"/> draws exhaustively);
    /// the tests that pin what the construction chooses call this instead, so that it runs inside them: a test host
    /// reused for many mutants (Stryker.NET) would otherwise never run a mutated construction (docs/testing.md).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">As the public constructor.</exception>
    /// <exception cref="ArgumentException">As the public constructor.</exception>
    internal static CyclicRepetitionCode Construct(int workers, int stragglers) => new(Build(workers, stragglers));

    private CyclicRepetitionCode(Built built)
        : base("cyclic", built.Description, built.Stragglers,
               built.B ?? throw new ArgumentException(built.Refusal, "stragglers"))
    {
        Seed = built.Seed;
    }

    /// <summary>True for the cyclic-MDS constructions (for s or for s + 1 stragglers).</summary>
    public bool IsCyclicMds => Seed is null;

    /// <summary>Seed of the random construction; null for cyclic-MDS.</summary>
    public ulong? Seed { get; }

    private static Built Build(int n, int s)
    {
        Validate(n, s);
        if (ResponderSubsets.Count(n, s) > CodeConditioning.ExhaustiveLimit)
            return Refused(n, s, $"C({n}, {s}) straggler sets are too many to check exhaustively (limit {CodeConditioning.ExhaustiveLimit:N0})");

        if (s == 0 || (n + s) % 2 == 1)
        {
            var mds = Circulant(n, s, MdsPolynomial(n, s));
            double error = Worst(mds, s, double.PositiveInfinity);
            return error <= CodeConditioning.AcceptanceLimit
                ? new Built(mds, s, $"{MdsDescription(n, s)}; worst float32 error {error:G2}", null, null)
                : Refused(n, s, $"the cyclic-MDS construction's worst float32 decode error is {error:G3}");
        }

        double bestError = double.PositiveInfinity;
        double[,]? best = null;
        ulong bestSeed = 0;
        for (ulong seed = 1; seed <= SeedDraws; seed++)
        {
            var b = RandomNullSpaceDraw(n, s, seed);
            if (b is null) continue;
            double error = Worst(b, s, abandonAbove: Math.Min(bestError, CodeConditioning.AcceptanceLimit));
            if (error < bestError) (best, bestError, bestSeed) = (b, error, seed);
        }
        if (best is not null && bestError <= CodeConditioning.AcceptanceLimit)
            return new Built(best, s,
                $"random null-space (Tandon Alg. 2), seed {bestSeed} best of {SeedDraws}: worst float32 error {bestError:G2}", bestSeed, null);

        if (s + 1 < n)
        {
            var wider = Circulant(n, s + 1, MdsPolynomial(n, s + 1));
            double error = Worst(wider, s + 1, double.PositiveInfinity);
            if (error <= CodeConditioning.AcceptanceLimit)
                return new Built(wider, s + 1,
                    $"{MdsDescription(n, s + 1)}, for s + 1 = {s + 1} stragglers (n + s even, and none of {SeedDraws} random " +
                    $"draws stays below float32 error {CodeConditioning.AcceptanceLimit:G2}); worst float32 error {error:G2}", null, null);
        }
        return Refused(n, s, $"none of {SeedDraws} random draws, nor the cyclic-MDS code for s + 1, stays below {CodeConditioning.AcceptanceLimit:G2}");
    }

    private static double Worst(double[,] b, int s, double abandonAbove) =>
        CodeConditioning.WorstFloat32Error(b, s, RoundingProfile.DefaultSeed, abandonAbove) ?? double.PositiveInfinity;

    private static string MdsDescription(int n, int s) =>
        $"cyclic-MDS: rows are shifts of p(x) with roots at frequencies {(n - s + 1) / 2}..{(n + s - 1) / 2} of {n}";

    private static Built Refused(int n, int s, string why)
    {
        var fractional = Enumerable.Range(1, n - 1).Where(t => n % (t + 1) == 0).OrderBy(t => Math.Abs(t - s)).Take(2).Order().ToArray();
        // Suggested only after checking them: cyclic-MDS degrades with n too (n = 64, s = 3: 1.2e-5).
        var odd = new[] { s - 1, s + 1 }.Where(t => t >= 1 && t < n && (n + t) % 2 == 1 &&
            ResponderSubsets.Count(n, t) <= CodeConditioning.ExhaustiveLimit &&
            Worst(Circulant(n, t, MdsPolynomial(n, t)), t, CodeConditioning.AcceptanceLimit) <= CodeConditioning.AcceptanceLimit).ToArray();
        var options = new List<string>();
        if (fractional.Length > 0) options.Add($"--code fractional with s = {string.Join(" or ", fractional)} ((s+1) divides n: exact 0/1 decode)");
        if (odd.Length > 0) options.Add($"the cyclic-MDS code with s = {string.Join(" or ", odd)} (n + s odd)");
        options.Add("fewer workers");
        return new Built(null, s, "", null,
            $"No cyclic gradient code for n = {n}, s = {s} decodes within float32 error {CodeConditioning.Float32Tolerance:G1}: {why}. " +
            $"Use {string.Join(", or ", options)}.");
    }

    /// <summary>Real coefficients p_0 … p_s of Π_{j∈J}(x − ωʲ), J centred on n/2 (requires n + s odd or s = 0).</summary>
    private static double[] MdsPolynomial(int n, int s)
    {
        // J = 1 … n − 1: p = (xⁿ − 1)/(x − 1) = 1 + x + … + xⁿ⁻¹, every worker holds all the data. The product below
        // leaves its coefficients 2e-10 to 8e-10 off 1 at n = 30 … 32, which the rank test (pivots below 1e-10 of the
        // first) reads as rank 2, so the code could not be checked and was refused.
        if (s == n - 1) return Enumerable.Repeat(1.0, n).ToArray();
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
