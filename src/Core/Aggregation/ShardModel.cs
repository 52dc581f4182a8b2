using System.Numerics.Tensors;
using GpuPs.Kernels;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The parameters of one shard and the optimizer that updates them. Not thread-safe: used under the shard's lock.
/// </summary>
public sealed class ShardModel(float[] parameters, IOptimizerKernel optimizer) : IDisposable
{
    public float[] Parameters { get; } = parameters;

    /// <summary>Updates applied so far.</summary>
    public long Step { get; private set; }

    /// <summary>Mean per-row loss reported with the last update.</summary>
    public double LastMeanLoss { get; private set; } = double.NaN;

    public int Length => Parameters.Length;

    /// <summary>
    /// Applies one optimizer step with the mean gradient <c>gradientSum / samples</c>, scaling
    /// <paramref name="gradientSum"/> in place (it is the caller's scratch).
    /// </summary>
    public void ApplySum(Span<float> gradientSum, long samples, double lossSum)
    {
        TensorPrimitives.Multiply(gradientSum, 1f / samples, gradientSum);
        optimizer.Apply(Parameters, gradientSum);
        LastMeanLoss = lossSum / samples;
        Step++;
    }

    public void Dispose() => optimizer.Dispose();
}
