using ILGPU;
using ILGPU.Runtime;

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
    internal IlgpuBackend(Context context, Device device, AcceleratorChoice kind)
    {
        _context = context;
        Accelerator = device.CreateAccelerator(context);
        Kind = kind;
        DeviceName = kind == AcceleratorChoice.Cpu
            ? $"ILGPU CPU accelerator ({Environment.ProcessorCount} cores)"
            : $"{Accelerator.Name} ({kind})";
        Kernels = new IlgpuKernels(Accelerator);
        Launch = new LaunchPlan(Accelerator);
    }

    /// <inheritdoc />
    public AcceleratorChoice Kind { get; }

    /// <inheritdoc />
    public string DeviceName { get; }

    internal Accelerator Accelerator { get; }

    internal IlgpuKernels Kernels { get; }

    internal LaunchPlan Launch { get; }

    /// <summary>Held for every sequence of device operations: one accelerator stream is shared by all kernel objects.</summary>
    internal object DeviceLock { get; } = new();

    /// <inheritdoc />
    public IGradientKernel CreateGradientKernel(ModelShape shape) => new IlgpuGradientKernel(this, shape);

    /// <inheritdoc />
    public IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length) => new IlgpuOptimizer(this, settings, length);

    /// <summary>Disposes the accelerator, then the context; dispose the kernel objects created from it first.</summary>
    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
