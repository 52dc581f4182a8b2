using ILGPU;

namespace GpuPs.Kernels;

/// <summary>
/// Dense matrix products on one ILGPU accelerator's default stream, so that they are ordered with the kernels launched
/// around them. <see cref="CuBlasMatrixProduct"/> on CUDA where a cuBLAS library loads; <see cref="IlgpuMatrixProduct"/>
/// everywhere else (the CPU accelerator in CI runs the same gradient code with it). Callers hold
/// <see cref="IlgpuBackend.DeviceLock"/>. Deterministic: the same inputs give the same bits.
/// </summary>
internal interface IMatrixProduct : IDisposable
{
    /// <summary>What computes the products, for logs and benchmark rows, e.g. "cuBLAS 13.1.0".</summary>
    string Name { get; }

    /// <summary>Enqueues <c>c = Alpha·op(a)·op(b) + Beta·c</c> (see <see cref="MatrixProductShape"/>); views start at element 0 of each matrix.</summary>
    void Multiply(MatrixProductShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c);
}
