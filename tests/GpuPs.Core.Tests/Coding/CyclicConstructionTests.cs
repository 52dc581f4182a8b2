using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>
/// What <see cref="CyclicRepetitionCode"/>'s construction chooses and builds, against references computed here: the
/// cyclic-MDS polynomial in real arithmetic, the null-space draw for s = 1 in closed form, and for s ≥ 2 the defining
/// property H·bᵢ = 0. Every test runs the construction itself (<see cref="CyclicRepetitionCode.Construct"/>, past the
/// process cache), so that a test host reused for many mutants still sees a mutated construction.
/// </summary>
public class CyclicConstructionTests
{
    [Theory]
    [InlineData(5, 0)]
    [InlineData(4, 1)]
    [InlineData(5, 2)]
    [InlineData(7, 2)]
    [InlineData(6, 3)]
    [InlineData(8, 3)]
    [InlineData(9, 2)]
    public void ForNPlusSOddTheRowsAreShiftsOfThePolynomialWithRootsCentredOnHalfN(int n, int s)
    {
        var code = CyclicRepetitionCode.Construct(n, s);

        Assert.True(code.IsCyclicMds);
        Assert.Null(code.Seed);
        Assert.Equal(s, code.Stragglers);
        AssertShiftsOf(MdsPolynomial(n, s), code);
        Assert.Equal($"{MdsDescription(n, s)}; worst float32 error {WorstError(code, s):G2}", code.Construction);
    }

    [Fact]
    public void TheSixWorkerThreeStragglerPolynomialIsTheOneWorkedByHand()
    {
        // p(x) ∝ (x+1)(x²+x+1) = 1 + 2x + 2x² + x³, scaled to norm √4 = 2.
        var code = CyclicRepetitionCode.Construct(6, 3);
        double[] row = [1, 2, 2, 1, 0, 0];
        for (int j = 0; j < 6; j++) Assert.Equal(row[j] * 2 / Math.Sqrt(10), code[0, j], 12);
    }

    [Fact]
    public void CyclicMdsCanDecodeASmallerLuckySet()
    {
        // n = 6, s = 3: rows 0 and 3 sum to 2·1ᵀ.
        var code = CyclicRepetitionCode.Construct(6, 3);
        var result = code.Decode([3, 0]);
        Assert.True(result.IsDecodable, result.Reason);
        Assert.Equal(result.Weights[0], result.Weights[1], 12);
        Assert.False(code.Decode([0, 1]).IsDecodable);
    }

    /// <summary>
    /// n + s even, s = 1: each draw is H = one Gaussian row with zero sum, and row i is (1, −hᵢ/hᵢ₊₁) on columns i, i+1.
    /// Every node must build the same B, so the winner is pinned: a change to it changes B on the wire and needs a
    /// coordinated rollout.
    /// </summary>
    [Theory]
    [InlineData(5, 61UL)]
    [InlineData(7, 19UL)]
    [InlineData(9, 46UL)]
    public void WithOneStragglerTheMostAccurateOfTheSeededNullSpaceDrawsIsChosen(int n, ulong winner)
    {
        var draws = Enumerable.Range(1, CyclicRepetitionCode.SeedDraws).Select(seed => OneStragglerDraw(n, (ulong)seed)).ToArray();
        var errors = draws.Select(b => CodeConditioning.WorstFloat32Error(b, 1, RoundingProfile.DefaultSeed, double.PositiveInfinity)!.Value).ToArray();
        int best = Array.IndexOf(errors, errors.Min());
        Assert.Equal(winner, (ulong)best + 1);

        var code = CyclicRepetitionCode.Construct(n, 1);

        Assert.False(code.IsCyclicMds);
        Assert.Equal(winner, code.Seed);
        Assert.Equal(1, code.Stragglers);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            Assert.Equal(draws[best][i, j], code[i, j], 12);
        Assert.Equal($"random null-space (Tandon Alg. 2), seed {winner} best of {CyclicRepetitionCode.SeedDraws}: worst float32 error {errors[best]:G2}",
            code.Construction);
    }

    [Theory]
    [InlineData(6, 2, 53UL)]
    [InlineData(8, 2, 46UL)]
    [InlineData(7, 3, 42UL)]
    [InlineData(10, 4, 33UL)]
    [InlineData(5, 3, 64UL)]
    public void WithMoreStragglersEachRowIsTheDrawsNullVectorOnItsWindow(int n, int s, ulong winner)
    {
        var code = CyclicRepetitionCode.Construct(n, s);

        Assert.False(code.IsCyclicMds);
        Assert.Equal(winner, code.Seed);
        Assert.Equal(s, code.Stragglers);
        var h = NullSpaceConstraints(n, s, winner);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(Enumerable.Range(0, s + 1).Select(d => (i + d) % n).Order(), code.PartitionsOf(i));
            for (int r = 0; r < s; r++)
                Assert.Equal(0, Enumerable.Range(0, n).Sum(j => h[r, j] * code[i, j]), 10);
        }
        AssertNormalised(code);
        double error = WorstError(code, s);
        Assert.True(error <= CodeConditioning.AcceptanceLimit, $"{error}");
        Assert.EndsWith($"seed {winner} best of {CyclicRepetitionCode.SeedDraws}: worst float32 error {error:G2}", code.Construction);
    }

    [Theory]
    [InlineData(12, 4)]
    [InlineData(16, 4)]
    public void WhenNoDrawIsAccurateTheCodeIsCyclicMdsForOneMoreStraggler(int n, int s)
    {
        var code = CyclicRepetitionCode.Construct(n, s);

        Assert.True(code.IsCyclicMds);
        Assert.Equal(s + 1, code.Stragglers);
        AssertShiftsOf(MdsPolynomial(n, s + 1), code);
        Assert.Equal($"{MdsDescription(n, s + 1)}, for s + 1 = {s + 1} stragglers (n + s even, and none of " +
            $"{CyclicRepetitionCode.SeedDraws} random draws stays below float32 error {CodeConditioning.AcceptanceLimit:G2}); " +
            $"worst float32 error {WorstError(code, s + 1):G2}", code.Construction);
    }

    /// <summary>Beyond <see cref="CodeConditioning.ExhaustiveLimit"/> straggler sets nothing is built; the refusal
    /// names the fractional codes nearest s (cyclic-MDS for s ± 1 is no option here: n + s is odd, or s ± 1 is as
    /// unaffordable or as inaccurate).</summary>
    [Theory]
    [InlineData(64, 5, "3 or 7")]
    [InlineData(63, 5, "2 or 6")]
    [InlineData(47, 5, "46")]
    public void TooManyStragglerSetsToCheckAreRefusedNamingTheNearestFractionalCodes(int n, int s, string fractional)
    {
        var error = Assert.Throws<ArgumentException>(() => CyclicRepetitionCode.Construct(n, s));

        Assert.Equal("stragglers", error.ParamName);
        Assert.StartsWith(
            $"No cyclic gradient code for n = {n}, s = {s} decodes within float32 error {CodeConditioning.Float32Tolerance:G1}: " +
            $"C({n}, {s}) straggler sets are too many to check exhaustively (limit {CodeConditioning.ExhaustiveLimit:N0}). " +
            $"Use --code fractional with s = {fractional} ((s+1) divides n: exact 0/1 decode), or fewer workers.", error.Message);
    }

    /// <summary>n + s even, and neither a draw nor cyclic-MDS for s + 1 is accurate: the refusal names cyclic-MDS for s − 1
    /// (n + s − 1 odd, checked accurate) beside the fractional codes nearest s.</summary>
    [Fact]
    public void ARefusalNamesTheAccurateCyclicMdsCodeForANeighbouringS()
    {
        var error = Assert.Throws<ArgumentException>(() => CyclicRepetitionCode.Construct(22, 4));

        Assert.StartsWith(
            $"No cyclic gradient code for n = 22, s = 4 decodes within float32 error {CodeConditioning.Float32Tolerance:G1}: " +
            $"none of {CyclicRepetitionCode.SeedDraws} random draws, nor the cyclic-MDS code for s + 1, stays below " +
            $"{CodeConditioning.AcceptanceLimit:G2}. Use --code fractional with s = 1 or 10 ((s+1) divides n: exact 0/1 decode), " +
            "or the cyclic-MDS code with s = 3 (n + s odd), or fewer workers.", error.Message);
    }

    /// <summary>n + s odd, but cyclic-MDS degrades with n: at n = 64, s = 3 its worst float32 error is 1.19e-5.</summary>
    [Fact]
    public void AnInaccurateCyclicMdsCodeIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => CyclicRepetitionCode.Construct(64, 3));

        Assert.StartsWith("No cyclic gradient code for n = 64, s = 3 decodes within float32 error " +
            $"{CodeConditioning.Float32Tolerance:G1}: the cyclic-MDS construction's worst float32 decode error is {1.19e-5:G3}. " +
            "Use --code fractional with s = 1 or 3 ((s+1) divides n: exact 0/1 decode), or fewer workers.", error.Message);
    }

    [Theory]
    [InlineData(0, 0, "workers")]
    [InlineData(4, 4, "stragglers")]
    [InlineData(4, -1, "stragglers")]
    public void ImpossibleCountsAreRefusedBeforeAnythingIsBuilt(int n, int s, string argument) =>
        Assert.Equal(argument, Assert.Throws<ArgumentOutOfRangeException>(() => CyclicRepetitionCode.Construct(n, s)).ParamName);

    /// <summary>Π over J = (n−s+1)/2 … (n+s−1)/2 of (x − ωʲ) multiplied out in real arithmetic: (x + 1) for j = n/2 and
    /// x² − 2cos(2πj/n)·x + 1 for each pair j, n − j; coefficients from x⁰ up.</summary>
    private static double[] MdsPolynomial(int n, int s)
    {
        double[] p = [1];
        for (int j = (n - s + 1) / 2; j <= (n + s - 1) / 2 && 2 * j <= n; j++)
        {
            double[] factor = 2 * j == n ? [1, 1] : [1, -2 * Math.Cos(2 * Math.PI * j / n), 1];
            var product = new double[p.Length + factor.Length - 1];
            for (int a = 0; a < p.Length; a++)
            for (int b = 0; b < factor.Length; b++)
                product[a + b] += p[a] * factor[b];
            p = product;
        }
        return p;
    }

    private static string MdsDescription(int n, int s) =>
        $"cyclic-MDS: rows are shifts of p(x) with roots at frequencies {(n - s + 1) / 2}..{(n + s - 1) / 2} of {n}";

    /// <summary>Row i is p on columns i … i+deg p (mod n), scaled to norm √(deg p + 1) with a positive sum.</summary>
    private static void AssertShiftsOf(double[] p, IGradientCode code)
    {
        int n = code.Workers;
        double scale = Math.Sqrt(p.Length / p.Sum(c => c * c)) * Math.Sign(p.Sum());
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            int d = (j - i + n) % n;
            Assert.Equal(d < p.Length ? p[d] * scale : 0, code[i, j], 12);
        }
        AssertNormalised(code);
    }

    private static void AssertNormalised(IGradientCode code)
    {
        for (int i = 0; i < code.Workers; i++)
        {
            var row = Enumerable.Range(0, code.Partitions).Select(j => code[i, j]).ToArray();
            Assert.Equal(code.Stragglers + 1, row.Sum(v => v * v), 12);
            Assert.True(row.Sum() > 0);
        }
    }

    /// <summary>H of the draw: s rows of n−1 Gaussians from <see cref="SplitMix64"/>(seed), each closed by minus its sum.</summary>
    private static double[,] NullSpaceConstraints(int n, int s, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var h = new double[s, n];
        for (int r = 0; r < s; r++)
        {
            for (int c = 0; c < n - 1; c++) h[r, c] = rng.NextGaussian();
            h[r, n - 1] = -Enumerable.Range(0, n - 1).Sum(c => h[r, c]);
        }
        return h;
    }

    private static double[,] OneStragglerDraw(int n, ulong seed)
    {
        var h = NullSpaceConstraints(n, 1, seed);
        var b = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            double x = -h[0, i] / h[0, (i + 1) % n];
            double scale = Math.Sqrt(2 / (1 + x * x)) * Math.Sign(1 + x);
            (b[i, i], b[i, (i + 1) % n]) = (scale, x * scale);
        }
        return b;
    }

    private static double WorstError(IGradientCode code, int s) =>
        CodeConditioning.WorstFloat32Error(CodeConditioning.Matrix(code), s, RoundingProfile.DefaultSeed, double.PositiveInfinity)!.Value;
}
