using System.Numerics.Tensors;

namespace GpuPs.Kernels;

/// <summary>
/// Numerically stable cross-entropy pieces on the host (float math, double loss). The ILGPU device code has its own
/// copy in <see cref="DeviceLossMath"/> because device code cannot use spans or <see cref="MathF"/>.
/// </summary>
internal static class HostLossMath
{
    /// <summary>Binary cross-entropy of logit <paramref name="z"/>: <c>log(1+e^z) - y·z</c>, without overflow.</summary>
    public static double BinaryCrossEntropy(float z, int label) =>
        Math.Max(z, 0f) + Math.Log(1 + Math.Exp(-Math.Abs(z))) - label * (double)z;

    public static float Sigmoid(float z) => 1f / (1f + MathF.Exp(-z));

    /// <summary>
    /// Turns <paramref name="logits"/> into the residual <c>softmax(logits) - onehot(label)</c> in place and returns the
    /// cross-entropy <c>logsumexp(logits) - logits[label]</c> (max-shifted, so no overflow).
    /// <paramref name="predicted"/> is the arg-max (lowest index on ties).
    /// </summary>
    public static double SoftmaxCrossEntropy(Span<float> logits, int label, out int predicted)
    {
        predicted = TensorPrimitives.IndexOfMax(logits);
        float max = logits[predicted];
        float labelLogit = logits[label];
        TensorPrimitives.Subtract(logits, max, logits);
        TensorPrimitives.Exp(logits, logits);
        float sum = TensorPrimitives.Sum(logits);
        TensorPrimitives.Multiply(logits, 1f / sum, logits);
        logits[label] -= 1f;
        return max + Math.Log(sum) - labelLogit;
    }
}
