using System.Collections.Concurrent;
using System.Numerics;

namespace GpuPs.Core.Coding;

/// <summary>
/// Solves aᵀB_F = 1ᵀ for a responder set F of a gradient code, in float64, as the least-squares
/// problem B_Fᵀa ≈ 1 by Householder QR with column pivoting (never the normal equations).
/// With more responders than needed the basic solution is returned: only rank(B_F) responders get
/// nonzero weight (for fractional repetition: the lowest-numbered responder of each group, weight 1).
/// A set is decodable only when the residual is within <see cref="ResidualTolerance"/> and the float32 error the
/// decode would have, predicted by the code's <see cref="RoundingProfile"/>, is within
/// <see cref="CodeConditioning.Float32Tolerance"/>: a wrong gradient is never applied, the step waits for another
/// responder instead. Every code GpuPs builds passes both on every set a step can close on, so the second test is a
/// guard, not a path.
/// Sets that leave a partition uncovered are refused from bitmasks without solving or caching (the server asks after
/// every push); solved sets are cached by bitmask (hence n ≤ 64), at most <see cref="MaxCachedSets"/> of them. Thread-safe.
/// </summary>
public sealed class GradientDecoder
{
    /// <summary>A set is decodable only when ‖B_Fᵀa − 1‖∞ ≤ this.</summary>
    public const double ResidualTolerance = 1e-6;

    /// <summary>
    /// Relative pivot threshold for the numerical rank of B_F. The worst decodable B_F measured has
    /// condition 2.4e3 for n ≤ 12 and ~2e5 at n = 33…64 (random cyclic construction), while exactly
    /// dependent columns leave pivots near 1e-16; 1e-10 separates the two with margin on both sides.
    /// </summary>
    public const double RankTolerance = 1e-10;

    /// <summary>Largest supported n: responder sets are cached by a 64-bit mask.</summary>
    public const int MaxWorkers = 64;

    /// <summary>
    /// Bound on cached solutions (each ≤ 64 weights, ~0.6 KB): a run meets at most n prefixes of its arrival order per
    /// step, and the covering ones repeat, so this holds every set of a long run with n ≤ 16; beyond it sets are solved
    /// again (~0.1 ms at n = 16) rather than letting memory grow.
    /// </summary>
    public const int MaxCachedSets = 1 << 14;

    private readonly double[,] _b;
    private readonly int _workers, _partitions;
    private readonly PartitionCoverage _coverage;
    private readonly RoundingProfile _profile;
    private readonly ConcurrentDictionary<ulong, Solution> _cache = new();

    private sealed record Solution(double[] WeightByWorker, double Residual, int Rank, double PredictedError, string? Reason);

    /// <summary>Snapshots B from <paramref name="code"/>'s indexer.</summary>
    public GradientDecoder(IGradientCode code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Workers is < 1 or > MaxWorkers)
            throw new ArgumentOutOfRangeException(nameof(code), code.Workers, $"Gradient codes support 1..{MaxWorkers} workers.");
        _workers = code.Workers;
        _partitions = code.Partitions;
        _b = CodeConditioning.Matrix(code);
        _coverage = new PartitionCoverage(code);
        _profile = new RoundingProfile(_b, RoundingProfile.DefaultSeed);
    }

    /// <summary>Number of distinct responder sets solved so far.</summary>
    public int CachedSets => _cache.Count;

    /// <summary>Decodes <paramref name="responders"/> (distinct worker ids, any order); weights are
    /// aligned with that order.</summary>
    /// <exception cref="ArgumentException">A worker id is out of range or repeated.</exception>
    public DecodeResult Decode(IReadOnlyList<int> responders)
    {
        ArgumentNullException.ThrowIfNull(responders);
        ulong mask = 0;
        foreach (int w in responders)
        {
            if ((uint)w >= (uint)_workers)
                throw new ArgumentException($"Responder {w} is not a worker id in 0..{_workers - 1}.", nameof(responders));
            ulong bit = 1UL << w;
            if ((mask & bit) != 0) throw new ArgumentException($"Responder {w} is listed twice.", nameof(responders));
            mask |= bit;
        }

        var solution = Uncovered(mask) ?? (_cache.TryGetValue(mask, out var cached) ? cached : Cache(mask, Solve(mask)));
        if (solution.Reason is not null)
            return new DecodeResult(false, [], solution.Residual, solution.Rank, solution.PredictedError, solution.Reason);
        var weights = new double[responders.Count];
        for (int i = 0; i < weights.Length; i++) weights[i] = solution.WeightByWorker[responders[i]];
        return new DecodeResult(true, weights, solution.Residual, solution.Rank, solution.PredictedError, null);
    }

    private Solution Cache(ulong mask, Solution solution)
    {
        if (_cache.Count < MaxCachedSets) _cache.TryAdd(mask, solution);
        return solution;
    }

    /// <summary>The refusal of a set that leaves some partition uncovered, or null when every partition has a responder.</summary>
    private Solution? Uncovered(ulong mask)
    {
        if (mask == 0) return Refused("no responders");
        ulong covered = _coverage.Of(mask);
        return _coverage.IsComplete(covered) ? null
            : Refused($"partition(s) {string.Join(", ", _coverage.Missing(covered))} held by no responder");
    }

    private Solution Solve(ulong mask)
    {
        var workers = Enumerable.Range(0, _workers).Where(i => (mask >> i & 1) != 0).ToArray();
        var bft = new double[_partitions, workers.Length];
        for (int c = 0; c < workers.Length; c++)
        for (int j = 0; j < _partitions; j++)
            bft[j, c] = _b[workers[c], j];
        var ones = Enumerable.Repeat(1.0, _partitions).ToArray();
        var (a, rank) = DenseMatrix.SolveLeastSquares(bft, ones, RankTolerance);

        double residual = 0;
        for (int j = 0; j < _partitions; j++)
        {
            double sum = -1;
            for (int c = 0; c < workers.Length; c++) sum += bft[j, c] * a[c];
            residual = Math.Max(residual, Math.Abs(sum));
        }
        if (!(residual <= ResidualTolerance))
            return new Solution([], residual, rank, double.PositiveInfinity,
                $"the all-ones vector is not in the span of the {BitOperations.PopCount(mask)} responders' rows " +
                $"(rank {rank}, least-squares residual {residual:G3} > {ResidualTolerance:G1})");

        var byWorker = new double[_workers];
        for (int c = 0; c < workers.Length; c++) byWorker[workers[c]] = a[c];
        double predicted = _profile.RelativeError(byWorker);
        if (!(predicted <= CodeConditioning.Float32Tolerance))
            return new Solution([], residual, rank, predicted,
                $"the decode is ill-conditioned: predicted float32 error {predicted:G3} > {CodeConditioning.Float32Tolerance:G1} " +
                $"(largest weight {byWorker.Max(v => Math.Abs(v)):G3})");
        return new Solution(byWorker, residual, rank, predicted, null);
    }

    private static Solution Refused(string reason) => new([], double.PositiveInfinity, 0, double.PositiveInfinity, reason);
}
