using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// Matrix products as an ILGPU kernel (<see cref="MatrixProductKernels.Multiply"/>): one output element per loop
/// iteration, split by the backend's <see cref="LaunchPlan"/>. The path of the CPU accelerator and of GPUs without cuBLAS.
/// </summary>
internal sealed class IlgpuMatrixProduct(Accelerator accelerator, LaunchPlan launch) : IMatrixProduct
{
    private readonly Lazy<Action<Index1D, WorkSplit, MatrixProductShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>> _kernel =
        new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, MatrixProductShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MatrixProductKernels.Multiply));

    public string Name => "ILGPU kernel";

    public void Multiply(MatrixProductShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (shape.M == 0 || shape.N == 0) return;
        var split = launch.Split(shape.M * shape.N);
        _kernel.Value(split.Threads, split, shape, a, b, c);
    }

    public void Dispose() { }
}

/// <summary>The device code of <see cref="IlgpuMatrixProduct"/>.</summary>
internal static class MatrixProductKernels
{
    /// <summary>Element <c>q = i·N + j</c> of C per iteration, summing over k in order (deterministic).</summary>
    public static void Multiply(Index1D thread, WorkSplit elements, MatrixProductShape s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        for (int q = elements.First(thread), end = elements.End(thread), stride = elements.Stride; q < end; q += stride)
        {
            int i = q / s.N, j = q - i * s.N;
            // op(A)[i, k] = A[i·lda + k], or A[k·lda + i] transposed; likewise op(B)[k, j].
            int aStart = s.TransposeA != 0 ? i : i * s.Lda, aStep = s.TransposeA != 0 ? s.Lda : 1;
            int bStart = s.TransposeB != 0 ? j * s.Ldb : j, bStep = s.TransposeB != 0 ? 1 : s.Ldb;
            float sum = 0;
            for (int k = 0; k < s.K; k++) sum += a[aStart + k * aStep] * b[bStart + k * bStep];
            int index = i * s.Ldc + j;
            c[index] = s.Beta != 0 ? s.Alpha * sum + s.Beta * c[index] : s.Alpha * sum;
        }
    }
}
