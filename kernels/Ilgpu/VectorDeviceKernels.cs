using ILGPU;

namespace GpuPs.Kernels;

/// <summary>ILGPU kernels on plain vectors.</summary>
internal static class VectorDeviceKernels
{
    /// <summary><c>output[k] = Σ_j coefficients[j] · inputs[j · Count + k]</c> (inputs stacked row-major).</summary>
    public static void LinearCombination(Index1D thread, WorkSplit elements, ArrayView<float> coefficients, ArrayView<float> inputs, ArrayView<float> output)
    {
        int n = elements.Count;
        int m = coefficients.IntLength;
        for (long k = elements.First(thread), end = elements.End(thread), stride = elements.Stride; k < end; k += stride)
        {
            float sum = 0;
            for (int j = 0; j < m; j++) sum += coefficients[j] * inputs[j * n + k];
            output[k] = sum;
        }
    }

    /// <summary><c>y += a·x</c>; the baseline kernel of <see cref="KernelBenchmark"/>.</summary>
    public static void Axpy(Index1D thread, WorkSplit elements, float a, ArrayView<float> x, ArrayView<float> y)
    {
        for (long k = elements.First(thread), end = elements.End(thread), stride = elements.Stride; k < end; k += stride) y[k] += a * x[k];
    }
}
