namespace GpuPs.Core.Coding;

/// <summary>
/// What float32 encoding does to a code's decode, measured once so it can be evaluated for any decode weights in
/// O(|F|²). Seeded N(0, 1) float32 partition gradients g_j of length <see cref="Dimension"/> are encoded as a worker
/// does (float32 coefficients, float32 accumulation in partition order); δ_i = c̃_i − c_i is each worker's encoding
/// error against the exact float64 combination. For decode weights a (aᵀB = 1ᵀ) the decoded sum Σ a_i c̃_i differs from
/// the true Σ_j g_j by Σ a_i δ_i (plus the float64 solve's residual, ~1e-15), so its relative error is
/// √(aᵀDa) / ‖Σ_j g_j‖ with D = Δ·Δᵀ. That is exactly the measured error of an exhaustive NumPy-style check (float32
/// encode, float64 decode) for these gradients, for every responder set, without re-decoding the vectors.
/// </summary>
/// <remarks>
/// With independent gradients ‖Σ_j g_j‖ ≈ √(Σ_j ‖g_j‖²); near convergence partition gradients cancel and any relative
/// error grows, which is why the codes are judged on independent gradients and the tolerance leaves margin. Another
/// draw of gradients moves a set's error by about 1/√(2·Dimension) (2%).
/// </remarks>
public sealed class RoundingProfile
{
    /// <summary>Length of the random partition gradients: a set's error then varies by ~2% between draws.</summary>
    public const int Dimension = 1024;

    /// <summary>Seed of the profile every node builds for its codes, so that all of them accept and refuse the same sets.</summary>
    public const ulong DefaultSeed = 0x6770_5EED;

    private readonly double[,] _gram;
    private readonly double _truthNorm;

    /// <summary>Measures the encoding error of B (n×k) on gradients drawn from <paramref name="seed"/>.</summary>
    public RoundingProfile(double[,] b, ulong seed)
    {
        int n = b.GetLength(0), k = b.GetLength(1);
        var rng = new SplitMix64(seed);
        var g = new float[k][];
        var truth = new double[Dimension];
        for (int j = 0; j < k; j++)
        {
            g[j] = new float[Dimension];
            for (int t = 0; t < Dimension; t++) truth[t] += g[j][t] = (float)rng.NextGaussian();
        }
        _truthNorm = Math.Sqrt(truth.Sum(v => v * v));

        var delta = new double[n][];
        for (int i = 0; i < n; i++)
        {
            var encoded = new float[Dimension];
            var exact = new double[Dimension];
            for (int j = 0; j < k; j++)
            {
                if (b[i, j] == 0) continue;
                float coefficient = (float)b[i, j];
                for (int t = 0; t < Dimension; t++)
                {
                    encoded[t] += coefficient * g[j][t];
                    exact[t] += b[i, j] * g[j][t];
                }
            }
            delta[i] = new double[Dimension];
            for (int t = 0; t < Dimension; t++) delta[i][t] = encoded[t] - exact[t];
        }
        _gram = new double[n, n];
        for (int i = 0; i < n; i++)
        for (int l = 0; l <= i; l++)
            _gram[i, l] = _gram[l, i] = System.Numerics.Tensors.TensorPrimitives.Dot<double>(delta[i], delta[l]);
    }

    /// <summary>
    /// Relative float32 error ‖Σ_i a_i c̃_i − Σ_j g_j‖₂ / ‖Σ_j g_j‖₂ of decoding with <paramref name="weightByWorker"/>
    /// (n entries, 0 for non-responders), in float64.
    /// </summary>
    public double RelativeError(ReadOnlySpan<double> weightByWorker)
    {
        double sum = 0;
        for (int i = 0; i < weightByWorker.Length; i++)
        {
            double ai = weightByWorker[i];
            if (ai == 0) continue;
            double row = 0;
            for (int l = 0; l < weightByWorker.Length; l++)
                if (weightByWorker[l] != 0) row += _gram[i, l] * weightByWorker[l];
            sum += ai * row;
        }
        return Math.Sqrt(Math.Max(sum, 0)) / _truthNorm;
    }
}
