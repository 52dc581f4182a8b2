namespace GpuPs.Kernels;

/// <summary>
/// Loss and gradient of one model over rows of a data set held on the device.
/// </summary>
/// <remarks>
/// Contract: <see cref="SetData"/> once (uploads features and labels; later calls address rows by range);
/// then any number of <see cref="LossAndGradient"/> / <see cref="Evaluate"/> calls. Not thread-safe: one
/// kernel object per worker thread. Results are sums over rows, not means, so that partial gradients of
/// disjoint row ranges add up exactly to the full-batch gradient sum.
/// <code>
/// using var k = backend.CreateGradientKernel(shape);
/// k.SetData(features, labels);
/// double loss = k.LossAndGradient(parameters, start: 0, count: 64, gradient);
/// </code>
/// </remarks>
public interface IGradientKernel : IDisposable
{
    ModelShape Shape { get; }

    /// <summary>Rows loaded by <see cref="SetData"/>.</summary>
    int Rows { get; }

    /// <summary>Uploads the data: <paramref name="features"/> is row-major [rows x Features]; labels in [0, Classes).</summary>
    void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels);

    /// <summary>
    /// Computes the loss sum over rows [start, start+count) and writes
    /// <c>gradient = accumulate ? gradient + scale * g : scale * g</c>, where g is the gradient SUM over those rows.
    /// With <paramref name="accumulate"/> and per-partition scales this is the fused gradient-coding encode
    /// <c>c_i = Σ_j B[i,j] g_j</c>.
    /// </summary>
    /// <returns>Sum of per-row losses (unscaled).</returns>
    double LossAndGradient(ReadOnlySpan<float> parameters, int start, int count, Span<float> gradient, float scale = 1f, bool accumulate = false);

    /// <summary>Loss sum and number of correctly classified rows over [start, start+count).</summary>
    EvaluationResult Evaluate(ReadOnlySpan<float> parameters, int start, int count);
}

/// <summary>Sums over evaluated rows.</summary>
public readonly record struct EvaluationResult(double LossSum, int Correct, int Rows)
{
    public double MeanLoss => Rows == 0 ? double.NaN : LossSum / Rows;
    public double Accuracy => Rows == 0 ? double.NaN : (double)Correct / Rows;
}
