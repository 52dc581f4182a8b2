using System.Numerics.Tensors;
using GpuPs.Core.Shards;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The bounds that keep a step's float32 arithmetic finite, whatever the pushes: a push outside them is refused
/// (InvalidRequest) before it is counted, and an update outside them is skipped by <see cref="ShardModel.ApplySum"/>.
/// </summary>
/// <remarks>
/// Together they bound every running sum: a plain push's values are at most <see cref="MaxMeanGradient"/> × its rows, and
/// a step's rows at most <see cref="MaxSampleCount"/>, so a step's float32 gradient sum stays below
/// 1e19 × 2^40 ≈ 1.1e31, far from float32's 3.4e38, and its row count far from <see cref="long.MaxValue"/>.
/// </remarks>
public static class GradientLimits
{
    /// <summary>
    /// Most rows one push, and one step's pushes together, may count: 2^40 (1.1e12), a thousand times the largest data
    /// sets trained on one machine, and small enough that summing the counts of a step can never overflow.
    /// </summary>
    public const long MaxSampleCount = 1L << 40;

    /// <summary>
    /// Largest magnitude of a mean gradient value (gradient sum / rows): 1e19, just below 2^64 ≈ 1.8e19, the largest
    /// float32 whose square (Adam's second moment) is finite. A float32 model whose gradients approach it has diverged.
    /// </summary>
    public const float MaxMeanGradient = 1e19f;

    /// <summary>
    /// Refuses a gradient of <paramref name="samples"/> rows (at least 1) that is not finite or whose mean is beyond
    /// <see cref="MaxMeanGradient"/>: one SIMD pass (MaxMagnitude, the value of largest magnitude, propagates NaN and sees
    /// ±Inf). The shard checks every push with it; a worker that sends a push in pieces checks the whole push first, so
    /// that no piece of a bad gradient is sent.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest naming the fault.</exception>
    public static void Check(ReadOnlySpan<float> gradient, long samples)
    {
        if (gradient.Length == 0) return;
        float largest = MathF.Abs(TensorPrimitives.MaxMagnitude(gradient));
        if (!float.IsFinite(largest))
            throw ShardException.Invalid("gradient contains NaN or Inf values");
        if (largest / (double)samples > MaxMeanGradient)
            throw ShardException.Invalid($"gradient values up to {largest:G3} over {samples} rows: a mean beyond the limit {MaxMeanGradient:G3}");
    }
}
