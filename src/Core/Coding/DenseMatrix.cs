using System.Numerics.Tensors;

namespace GpuPs.Core.Coding;

/// <summary>
/// Small dense float64 linear algebra for gradient codes (matrices of at most 64×64):
/// Householder QR with column pivoting for solving, one-sided Jacobi SVD for singular values.
/// Inputs are never modified. Normal equations are deliberately absent: they square the
/// condition number, and the random cyclic construction already reaches 1e10 (PAPERS.md).
/// </summary>
public static class DenseMatrix
{
    /// <summary>Result of <see cref="SolveLeastSquares"/>.</summary>
    /// <param name="Solution">x with A·x ≈ b; zero outside the <paramref name="Rank"/> pivot columns.</param>
    /// <param name="Rank">Numerical rank: pivots whose |R_tt| exceeds <c>rankTolerance·|R_00|</c>.</param>
    public readonly record struct LeastSquaresSolution(double[] Solution, int Rank);

    /// <summary>
    /// Basic least-squares solution of A·x ≈ b (A is rows×cols, any shape) by Householder QR with
    /// column pivoting: A·P = Q·R, rank r from the pivots, x_P = [R11⁻¹ (Qᵀb)₁..r ; 0].
    /// When A has dependent columns the solution uses only r of them (the largest-norm ones,
    /// exact ties broken by lowest column index), so duplicated columns get weight 0 rather than a split.
    /// </summary>
    /// <param name="a">A, rows×cols.</param>
    /// <param name="b">b, one entry per row of A.</param>
    /// <param name="rankTolerance">Relative pivot threshold that ends the factorisation.</param>
    /// <exception cref="ArgumentException"><paramref name="b"/>'s length is not A's number of rows.</exception>
    public static LeastSquaresSolution SolveLeastSquares(double[,] a, double[] b, double rankTolerance)
    {
        int rows = a.GetLength(0), cols = a.GetLength(1);
        if (b.Length != rows) throw new ArgumentException($"b has {b.Length} entries, A has {rows} rows.", nameof(b));
        var qr = PivotedQr.Factorize(a, b, rankTolerance);
        int rank = qr.Rank;
        var y = new double[rank];
        for (int i = rank - 1; i >= 0; i--)
        {
            double sum = qr.Qtb[i];
            for (int j = i + 1; j < rank; j++) sum -= qr.R[i, j] * y[j];
            y[i] = sum / qr.R[i, i];
        }
        var x = new double[cols];
        for (int i = 0; i < rank; i++) x[qr.Permutation[i]] = y[i];
        return new LeastSquaresSolution(x, rank);
    }

    /// <summary>
    /// Orthonormal basis of the null space {x : A·x = 0} of A (rows×cols), as the columns of a cols×(cols − r) matrix,
    /// r the numerical rank from the same pivoted QR as <see cref="SolveLeastSquares"/>: x_P = [−R₁₁⁻¹R₁₂·z; z], then
    /// modified Gram–Schmidt applied twice ("twice is enough", Giraud et al. 2005) so the basis is orthonormal to
    /// rounding even when R₁₁ is poorly conditioned.
    /// </summary>
    public static double[,] NullSpace(double[,] a, double rankTolerance)
    {
        int cols = a.GetLength(1);
        var qr = PivotedQr.Factorize(a, new double[a.GetLength(0)], rankTolerance);
        int rank = qr.Rank, dim = cols - rank;
        var basis = new double[cols][];
        var v = new double[dim][];
        for (int z = 0; z < dim; z++)
        {
            // Free variable rank + z set to 1, the pivot variables solved from R₁₁·x₁ = −R₁₂·e_z.
            var x = new double[cols];
            x[rank + z] = 1;
            for (int i = rank - 1; i >= 0; i--)
            {
                double sum = -qr.R[i, rank + z];
                for (int j = i + 1; j < rank; j++) sum -= qr.R[i, j] * x[j];
                x[i] = sum / qr.R[i, i];
            }
            v[z] = new double[cols];
            for (int i = 0; i < cols; i++) v[z][qr.Permutation[i]] = x[i];
        }
        for (int pass = 0; pass < 2; pass++)
        for (int z = 0; z < dim; z++)
        {
            for (int p = 0; p < z; p++)
            {
                double dot = TensorPrimitives.Dot<double>(v[p], v[z]);
                for (int i = 0; i < cols; i++) v[z][i] -= dot * v[p][i];
            }
            double norm = Math.Sqrt(TensorPrimitives.Dot<double>(v[z], v[z]));
            for (int i = 0; i < cols; i++) v[z][i] /= norm;
        }
        var result = new double[cols, dim];
        for (int z = 0; z < dim; z++)
        for (int i = 0; i < cols; i++)
            result[i, z] = v[z][i];
        return result;
    }

    /// <summary>A·P = Q·R by Householder reflections with column pivoting, stopped at the numerical rank; Qᵀb kept.</summary>
    private readonly record struct PivotedQr(double[,] R, double[] Qtb, int[] Permutation, int Rank)
    {
        public static PivotedQr Factorize(double[,] a, double[] b, double rankTolerance)
        {
            int rows = a.GetLength(0), cols = a.GetLength(1);
            var r = (double[,])a.Clone();
            var qtb = (double[])b.Clone();
            var perm = Enumerable.Range(0, cols).ToArray();
            int steps = Math.Min(rows, cols), rank = 0;
            double firstPivot = 0;
            for (int t = 0; t < steps; t++)
            {
                // Recompute trailing column norms each step instead of downdating: at ≤ 64 columns the
                // cost is negligible and it avoids the cancellation that downdating needs guards for.
                int best = t;
                double bestNorm = -1;
                for (int c = t; c < cols; c++)
                {
                    double norm = ColumnNorm(r, c, t);
                    // Exact ties (duplicated columns stay bit-identical) go to the lowest original column.
                    if (norm > bestNorm || norm == bestNorm && perm[c] < perm[best]) (best, bestNorm) = (c, norm);
                }
                if (t == 0) firstPivot = bestNorm;
                if (bestNorm == 0 || bestNorm <= rankTolerance * firstPivot) break;
                SwapColumns(r, t, best);
                (perm[t], perm[best]) = (perm[best], perm[t]);
                ApplyHouseholder(r, qtb, t, bestNorm);
                rank++;
            }
            return new PivotedQr(r, qtb, perm, rank);
        }
    }

    /// <summary>
    /// Singular values of A (any shape), descending, by one-sided Jacobi (Hestenes) rotations on the
    /// columns of A or Aᵀ, whichever has fewer columns. Jacobi gets small singular values to high
    /// relative accuracy, which is what condition numbers of nearly singular B_F need.
    /// </summary>
    public static double[] SingularValues(double[,] a)
    {
        int rows = a.GetLength(0), cols = a.GetLength(1);
        bool transpose = cols > rows;
        int m = transpose ? cols : rows, n = transpose ? rows : cols;
        var u = new double[n][];
        for (int j = 0; j < n; j++)
        {
            u[j] = new double[m];
            for (int i = 0; i < m; i++) u[j][i] = transpose ? a[j, i] : a[i, j];
        }

        // Squared column norms are updated through each rotation and recomputed once per sweep, so a
        // pair costs one dot product instead of three (3× faster at 60×64, where the random-code seed
        // search spends its time).
        var norms = new double[n];
        const int maxSweeps = 60;
        for (int sweep = 0; sweep < maxSweeps; sweep++)
        {
            for (int j = 0; j < n; j++) norms[j] = TensorPrimitives.Dot<double>(u[j], u[j]);
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++)
            {
                double alpha = norms[p], beta = norms[q], gamma = TensorPrimitives.Dot<double>(u[p], u[q]);
                if (gamma == 0 || Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta)) continue;
                rotated = true;
                double zeta = (beta - alpha) / (2 * gamma);
                double tan = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                double cos = 1 / Math.Sqrt(1 + tan * tan), sin = cos * tan;
                var up = u[p];
                var uq = u[q];
                for (int i = 0; i < m; i++)
                {
                    double x = up[i], y = uq[i];
                    up[i] = cos * x - sin * y;
                    uq[i] = sin * x + cos * y;
                }
                norms[p] = alpha - tan * gamma;
                norms[q] = beta + tan * gamma;
            }
            if (!rotated) break;
        }

        var sigma = new double[n];
        for (int j = 0; j < n; j++) sigma[j] = Math.Sqrt(TensorPrimitives.Dot<double>(u[j], u[j]));
        Array.Sort(sigma, (x, y) => y.CompareTo(x));
        return sigma;
    }

    /// <summary>
    /// Numerical rank r of A (singular values above <c>rankTolerance·σ_max</c>) and the effective
    /// condition number σ_max / σ_r of its rank-r part; (∞, 0) for the zero matrix.
    /// </summary>
    public static (double Condition, int Rank) ConditionNumber(double[,] a, double rankTolerance)
    {
        var sigma = SingularValues(a);
        if (sigma.Length == 0 || sigma[0] == 0) return (double.PositiveInfinity, 0);
        int rank = sigma.Count(v => v > rankTolerance * sigma[0]);
        return (sigma[0] / sigma[rank - 1], rank);
    }

    private static double ColumnNorm(double[,] r, int col, int fromRow)
    {
        double sum = 0;
        for (int i = fromRow; i < r.GetLength(0); i++) sum += r[i, col] * r[i, col];
        return Math.Sqrt(sum);
    }

    private static void SwapColumns(double[,] r, int c1, int c2)
    {
        if (c1 == c2) return;
        for (int i = 0; i < r.GetLength(0); i++) (r[i, c1], r[i, c2]) = (r[i, c2], r[i, c1]);
    }

    /// <summary>Reflects rows t.. of column t onto e_t (norm given), applying the reflector to the
    /// trailing columns and to the right-hand side.</summary>
    private static void ApplyHouseholder(double[,] r, double[] qtb, int t, double norm)
    {
        int rows = r.GetLength(0), cols = r.GetLength(1);
        // v = x + sign(x_t)·‖x‖·e_t avoids cancellation in v_t.
        double alpha = r[t, t] >= 0 ? -norm : norm;
        var v = new double[rows - t];
        for (int i = t; i < rows; i++) v[i - t] = r[i, t];
        v[0] -= alpha;
        double vv = TensorPrimitives.Dot<double>(v, v);
        if (vv > 0)
        {
            for (int c = t + 1; c < cols; c++)
            {
                double s = 0;
                for (int i = t; i < rows; i++) s += v[i - t] * r[i, c];
                s = 2 * s / vv;
                for (int i = t; i < rows; i++) r[i, c] -= s * v[i - t];
            }
            double sb = 0;
            for (int i = t; i < rows; i++) sb += v[i - t] * qtb[i];
            sb = 2 * sb / vv;
            for (int i = t; i < rows; i++) qtb[i] -= sb * v[i - t];
        }
        r[t, t] = alpha;
        for (int i = t + 1; i < rows; i++) r[i, t] = 0;
    }
}
