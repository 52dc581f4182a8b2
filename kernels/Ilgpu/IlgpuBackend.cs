using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Serilog;

namespace GpuPs.Kernels;

/// <summary>
/// ILGPU backend: CUDA, OpenCL or the ILGPU CPU accelerator. Owns the ILGPU <see cref="Context"/> and
/// <see cref="Accelerator"/> (disposed accelerator first). Create through <see cref="Accelerators.Create"/>.
/// Thread-safe: kernel objects created from it may run on different threads; their device work (uploads, launches,
/// downloads) is serialized by <see cref="DeviceLock"/>, so each call blocks until its results are on the host.
/// </summary>
public sealed class IlgpuBackend : IComputeBackend
{
    private readonly Context _context;

    /// <summary>Takes ownership of <paramref name="context"/> and creates the accelerator for <paramref name="device"/>.</summary>
    internal IlgpuBackend(Context context, Device device, AcceleratorChoice kind, MatrixProductChoice products, ILogger log)
    {
        _context = context;
        Accelerator = device.CreateAccelerator(context);
        Kind = kind;
        Kernels = new IlgpuKernels(Accelerator);
        Launch = new LaunchPlan(Accelerator);
        MatrixProduct = CreateMatrixProduct(products, log);
        DeviceName = kind == AcceleratorChoice.Cpu
            ? $"ILGPU CPU accelerator ({Environment.ProcessorCount} cores)"
            : $"{Accelerator.Name} ({kind}, {MatrixProduct.Name})";
    }

    /// <inheritdoc />
    public AcceleratorChoice Kind { get; }

    /// <inheritdoc />
    public string DeviceName { get; }

    internal Accelerator Accelerator { get; }

    internal IlgpuKernels Kernels { get; }

    internal LaunchPlan Launch { get; }

    /// <summary>The matrix products of the gradient kernels, on this accelerator's default stream.</summary>
    internal IMatrixProduct MatrixProduct { get; }

    /// <summary>Held for every sequence of device operations: one accelerator stream is shared by all kernel objects.</summary>
    internal object DeviceLock { get; } = new();

    /// <inheritdoc />
    public IGradientKernel CreateGradientKernel(ModelShape shape) => new IlgpuGradientKernel(this, shape);

    /// <inheritdoc />
    public IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length) => new IlgpuOptimizer(this, settings, length);

    /// <summary>
    /// cuBLAS on a CUDA device unless <see cref="MatrixProductChoice.Ilgpu"/> is asked for; the ILGPU kernel otherwise,
    /// and where cuBLAS does not load (logged, or an error when <see cref="MatrixProductChoice.CuBlas"/> was asked for).
    /// </summary>
    private IMatrixProduct CreateMatrixProduct(MatrixProductChoice choice, ILogger log)
    {
        if (choice == MatrixProductChoice.CuBlas && Accelerator is not CudaAccelerator)
            throw new MatrixProductUnavailableException($"cuBLAS needs a CUDA device, not {Kind}");
        if (choice != MatrixProductChoice.Ilgpu && Accelerator is CudaAccelerator cuda)
        {
            if (CuBlasMatrixProduct.TryCreate(cuda, out string reason) is { } cuBlas) return cuBlas;
            if (choice == MatrixProductChoice.CuBlas) throw new MatrixProductUnavailableException($"cuBLAS is not usable: {reason}");
            log.Warning("Matrix products on {Device} run as ILGPU kernels, not cuBLAS: {Reason}", Accelerator.Name, reason);
        }
        return new IlgpuMatrixProduct(Accelerator, Launch);
    }

    /// <summary>Disposes the accelerator, then the context; dispose the kernel objects created from it first.</summary>
    public void Dispose()
    {
        lock (DeviceLock)
        {
            // cuBLAS frees its handle in the current context: this accelerator's, not whichever the thread had bound.
            Accelerator.Bind();
            MatrixProduct.Dispose();
        }
        Accelerator.Dispose();
        _context.Dispose();
    }
}
