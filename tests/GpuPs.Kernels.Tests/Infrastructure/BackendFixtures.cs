using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// One backend shared by all tests of a class (xunit class fixture): ILGPU compiles each kernel once per
/// accelerator, which is the slow part. Created lazily, so a missing device only fails tests that are not skipped.
/// </summary>
public abstract class BackendFixture(AcceleratorChoice kind, MatrixProductChoice products = MatrixProductChoice.Auto) : IDisposable
{
    private readonly Lazy<IComputeBackend> _backend = new(() => Accelerators.Create(kind, products: products));

    public IComputeBackend Backend => _backend.Value;

    public void Dispose()
    {
        if (_backend.IsValueCreated) _backend.Value.Dispose();
    }
}

public sealed class SimdBackendFixture() : BackendFixture(AcceleratorChoice.Simd);

public sealed class IlgpuCpuBackendFixture() : BackendFixture(AcceleratorChoice.Cpu);

/// <summary>CUDA with cuBLAS where it loads (the default), else ILGPU matrix products.</summary>
public sealed class CudaBackendFixture() : BackendFixture(AcceleratorChoice.Cuda);

/// <summary>CUDA with GpuPs's ILGPU matrix-product kernel instead of cuBLAS.</summary>
public sealed class CudaIlgpuProductsBackendFixture() : BackendFixture(AcceleratorChoice.Cuda, MatrixProductChoice.Ilgpu);

public sealed class OpenCLBackendFixture() : BackendFixture(AcceleratorChoice.OpenCL);
