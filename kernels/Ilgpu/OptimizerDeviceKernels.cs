using ILGPU;
using ILGPU.Algorithms;

namespace GpuPs.Kernels;

/// <summary>Hyper-parameters of one optimizer step, passed by value to the kernels.</summary>
internal readonly record struct OptimizerStepArgs(
    float LearningRate, float Momentum, float Beta1, float Beta2, float Epsilon, float WeightDecay,
    float BiasCorrection1, float BiasCorrection2);

/// <summary>
/// ILGPU optimizer updates, element-wise, same rules as <see cref="SimdOptimizer"/>. All share one signature
/// (parameters, gradient, first and second state vector) so that they share one loader; unused state is ignored.
/// </summary>
internal static class OptimizerDeviceKernels
{
    public static void Sgd(Index1D thread, WorkSplit elements, OptimizerStepArgs s, ArrayView<float> parameters, ArrayView<float> gradient,
        ArrayView<float> first, ArrayView<float> second)
    {
        for (long k = elements.First(thread), end = elements.End(thread), stride = elements.Stride; k < end; k += stride)
            parameters[k] -= s.LearningRate * (gradient[k] + s.WeightDecay * parameters[k]);
    }

    /// <summary><c>v = μ·v + g'; p -= lr·v</c>, with v in <paramref name="first"/>.</summary>
    public static void Momentum(Index1D thread, WorkSplit elements, OptimizerStepArgs s, ArrayView<float> parameters, ArrayView<float> gradient,
        ArrayView<float> first, ArrayView<float> second)
    {
        for (long k = elements.First(thread), end = elements.End(thread), stride = elements.Stride; k < end; k += stride)
        {
            float v = s.Momentum * first[k] + gradient[k] + s.WeightDecay * parameters[k];
            first[k] = v;
            parameters[k] -= s.LearningRate * v;
        }
    }

    /// <summary>Adam with bias correction; m in <paramref name="first"/>, v in <paramref name="second"/>.</summary>
    public static void Adam(Index1D thread, WorkSplit elements, OptimizerStepArgs s, ArrayView<float> parameters, ArrayView<float> gradient,
        ArrayView<float> first, ArrayView<float> second)
    {
        for (long k = elements.First(thread), end = elements.End(thread), stride = elements.Stride; k < end; k += stride)
        {
            float g = gradient[k] + s.WeightDecay * parameters[k];
            float m = s.Beta1 * first[k] + (1 - s.Beta1) * g;
            float v = s.Beta2 * second[k] + (1 - s.Beta2) * g * g;
            first[k] = m;
            second[k] = v;
            parameters[k] -= s.LearningRate * (m / s.BiasCorrection1) / (XMath.Sqrt(v / s.BiasCorrection2) + s.Epsilon);
        }
    }
}
