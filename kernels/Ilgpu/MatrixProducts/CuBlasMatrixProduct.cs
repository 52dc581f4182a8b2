using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuPs.Kernels;

/// <summary>
/// Matrix products through cuBLAS SGEMM (fp32, the default math mode: no TF32), on the accelerator's default stream.
/// GpuPs's matrices are row-major and cuBLAS's column-major, and a row-major C = op(A)·op(B) is the column-major
/// Cᵀ = op(B)ᵀ·op(A)ᵀ: each call passes B before A with the dimensions swapped, and no data moves.
/// </summary>
internal sealed unsafe class CuBlasMatrixProduct : IMatrixProduct
{
    private const int NoTranspose = 0, Transpose = 1;  // CUBLAS_OP_N, CUBLAS_OP_T
    private readonly CuBlasLibrary _library;
    private nint _handle;

    private CuBlasMatrixProduct(CuBlasLibrary library, CudaAccelerator accelerator)
    {
        _library = library;
        accelerator.Bind();
        nint handle;
        CuBlasLibrary.Check(library.Create(&handle), "cublasCreate");
        try
        {
            int version;
            CuBlasLibrary.Check(library.GetVersion(handle, &version), "cublasGetVersion");
            CuBlasLibrary.Check(library.SetStream(handle, ((CudaStream)accelerator.DefaultStream).StreamPtr), "cublasSetStream");
            Name = $"cuBLAS {version / 10000}.{version / 100 % 100}.{version % 100} ({library.FileName})";
        }
        catch
        {
            library.Destroy(handle);
            throw;
        }
        _handle = handle;
    }

    public string Name { get; }

    /// <summary>cuBLAS on <paramref name="accelerator"/>, or null with the reason when no cuBLAS library loads or a handle cannot be made.</summary>
    public static CuBlasMatrixProduct? TryCreate(CudaAccelerator accelerator, out string reason)
    {
        if (CuBlasLibrary.TryGet(out reason) is not { } library) return null;
        try
        {
            return new CuBlasMatrixProduct(library, accelerator);
        }
        catch (InvalidOperationException e)
        {
            reason = e.Message;
            return null;
        }
    }

    public void Multiply(MatrixProductShape s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (s.M == 0 || s.N == 0) return;
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        float alpha = s.Alpha, beta = s.Beta;
        CuBlasLibrary.Check(_library.Sgemm(_handle, s.TransposeB != 0 ? Transpose : NoTranspose, s.TransposeA != 0 ? Transpose : NoTranspose,
            s.N, s.M, s.K, &alpha, b.LoadEffectiveAddressAsPtr(), s.Ldb, a.LoadEffectiveAddressAsPtr(), s.Lda,
            &beta, c.LoadEffectiveAddressAsPtr(), s.Ldc), "cublasSgemm");
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        _library.Destroy(_handle);
        _handle = 0;
    }
}
