using System.Numerics;

namespace GpuPs.Core.Coding;

/// <summary>Measures how well a gradient code decodes in floating point over its (n−s)-responder sets.</summary>
public static class CodeConditioning
{
    /// <summary>Responder sets are enumerated exhaustively up to this many (C(16, 8) = 12,870 fits), else sampled.</summary>
    public const int ExhaustiveLimit = 50_000;

    /// <summary>Number of responder sets sampled when C(n, n−s) exceeds <see cref="ExhaustiveLimit"/>.</summary>
    public const int SampleSize = 5_000;

    /// <summary>
    /// Evaluates every (n−s)-subset of workers (or a <see cref="SampleSize"/> sample seeded by
    /// <paramref name="seed"/> when there are more than <see cref="ExhaustiveLimit"/>): condition number
    /// of B_F, decode weights and residual from a fresh (uncached) <see cref="GradientDecoder"/>, and the
    /// float32 decode error for random N(0,1) partition gradients of length <paramref name="gradientDimension"/>.
    /// </summary>
    public static CodeConditioningReport Analyze(IGradientCode code, ulong seed, int gradientDimension = 1000)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentOutOfRangeException.ThrowIfLessThan(gradientDimension, 1);
        int n = code.Workers, k = code.Partitions, size = code.MinResponders;
        var b = new double[n, k];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            b[i, j] = code[i, j];

        var rng = new SplitMix64(seed);
        var g = new float[k][];
        var truth = new double[gradientDimension];
        for (int j = 0; j < k; j++)
        {
            g[j] = new float[gradientDimension];
            for (int t = 0; t < gradientDimension; t++) truth[t] += g[j][t] = (float)rng.NextGaussian();
        }
        // Workers encode in float32 with float32 coefficients, as a GPU worker would.
        var c = new float[n][];
        for (int i = 0; i < n; i++)
        {
            c[i] = new float[gradientDimension];
            foreach (int j in code.PartitionsOf(i))
            {
                float coefficient = (float)b[i, j];
                for (int t = 0; t < gradientDimension; t++) c[i][t] += coefficient * g[j][t];
            }
        }
        double truthNorm = Math.Sqrt(truth.Sum(v => v * v));

        var (masks, exhaustive) = ResponderSubsets.Select(n, size, ExhaustiveLimit, SampleSize, seed);
        var decoder = new GradientDecoder(code);
        int undecodable = 0;
        double worstCond = 0, maxWeight = 0, worstResidual = 0, worstError = 0;
        var decoded = new double[gradientDimension];
        foreach (ulong mask in masks)
        {
            var responders = Workers(mask);
            worstCond = Math.Max(worstCond, DenseMatrix.ConditionNumber(Rows(b, mask), GradientDecoder.RankTolerance).Condition);
            var result = decoder.Decode(responders);
            if (!result.IsDecodable)
            {
                undecodable++;
                continue;
            }
            worstResidual = Math.Max(worstResidual, result.Residual);
            Array.Clear(decoded);
            for (int r = 0; r < responders.Length; r++)
            {
                double a = result.Weights[r];
                maxWeight = Math.Max(maxWeight, Math.Abs(a));
                if (a == 0) continue;
                var ci = c[responders[r]];
                for (int t = 0; t < gradientDimension; t++) decoded[t] += a * ci[t];
            }
            double err = 0;
            for (int t = 0; t < gradientDimension; t++) err += (decoded[t] - truth[t]) * (decoded[t] - truth[t]);
            worstError = Math.Max(worstError, Math.Sqrt(err) / truthNorm);
        }

        return new CodeConditioningReport(code.Name, code.Construction, n, code.Stragglers, size,
            ResponderSubsets.Count(n, size), masks.Count, exhaustive, undecodable,
            undecodable > 0 ? double.PositiveInfinity : worstCond, maxWeight, worstResidual,
            undecodable > 0 ? double.PositiveInfinity : worstError, gradientDimension, seed);
    }

    /// <summary>
    /// Worst condition number of B_F over <paramref name="masks"/>, where a rank-deficient B_F counts
    /// as +∞. Stops as soon as the worst exceeds <paramref name="abandonAbove"/> (the value returned is
    /// then only a lower bound) and moves the offending set to the front of <paramref name="masks"/>:
    /// bad sets tend to be bad for many draws, so a seed search then discards most draws after a few
    /// evaluations.
    /// </summary>
    internal static double WorstConditionNumber(double[,] b, List<ulong> masks, double abandonAbove)
    {
        double worst = 0;
        for (int i = 0; i < masks.Count; i++)
        {
            ulong mask = masks[i];
            var (cond, rank) = DenseMatrix.ConditionNumber(Rows(b, mask), GradientDecoder.RankTolerance);
            worst = Math.Max(worst, rank < BitOperations.PopCount(mask) ? double.PositiveInfinity : cond);
            if (worst > abandonAbove)
            {
                masks.RemoveAt(i);
                masks.Insert(0, mask);
                break;
            }
        }
        return worst;
    }

    private static int[] Workers(ulong mask)
    {
        var workers = new int[BitOperations.PopCount(mask)];
        for (int i = 0, w = 0; mask != 0; mask >>= 1, w++)
            if ((mask & 1) != 0) workers[i++] = w;
        return workers;
    }

    private static double[,] Rows(double[,] b, ulong mask)
    {
        var workers = Workers(mask);
        int k = b.GetLength(1);
        var rows = new double[workers.Length, k];
        for (int r = 0; r < workers.Length; r++)
        for (int j = 0; j < k; j++)
            rows[r, j] = b[workers[r], j];
        return rows;
    }
}
