using ILGPU;
using ILGPU.Algorithms;

namespace GpuPs.Kernels;

/// <summary>
/// Device-side math shared by the ILGPU kernels (runs on CUDA, OpenCL and the CPU accelerator). Uses
/// <see cref="XMath"/>, which ILGPU maps to each backend's intrinsics. Same formulas as <see cref="HostLossMath"/>.
/// </summary>
internal static class DeviceLossMath
{
    /// <summary>Binary cross-entropy <c>log(1+e^z) - y·z</c>, without overflow.</summary>
    public static float BinaryCrossEntropy(float z, int label) =>
        XMath.Max(z, 0f) + XMath.Log(1f + XMath.Exp(-XMath.Abs(z))) - label * z;

    public static float Sigmoid(float z) => 1f / (1f + XMath.Exp(-z));

    /// <summary>Index of the largest of <c>values[offset .. offset+length)</c>, relative to offset (lowest on ties).</summary>
    public static int ArgMax(ArrayView<float> values, int offset, int length)
    {
        int best = 0;
        for (int k = 1; k < length; k++)
        {
            if (values[offset + k] > values[offset + best]) best = k;
        }
        return best;
    }

    /// <summary>
    /// Turns the logits <c>z[offset .. offset+classes)</c> into residuals <c>softmax(z) - onehot(label)</c> in place and
    /// returns the cross-entropy <c>logsumexp(z) - z[label]</c> (max-shifted).
    /// </summary>
    public static float SoftmaxResidual(ArrayView<float> z, int offset, int classes, int label)
    {
        float max = z[offset + ArgMax(z, offset, classes)];
        float labelLogit = z[offset + label];
        float sum = 0;
        for (int k = 0; k < classes; k++)
        {
            float e = XMath.Exp(z[offset + k] - max);
            z[offset + k] = e;
            sum += e;
        }
        float inverse = 1f / sum;
        for (int k = 0; k < classes; k++) z[offset + k] *= inverse;
        z[offset + label] -= 1f;
        return max + XMath.Log(sum) - labelLogit;
    }
}
