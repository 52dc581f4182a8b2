namespace GpuPs.Kernels;

/// <summary>Which compute path to use. <see cref="Auto"/> picks CUDA, then OpenCL, then the fastest CPU path (SIMD).</summary>
public enum AcceleratorChoice
{
    /// <summary>The first of <see cref="Cuda"/>, <see cref="OpenCL"/>, <see cref="Simd"/> that can be used.</summary>
    Auto,
    /// <summary>ILGPU on the first CUDA device.</summary>
    Cuda,
    /// <summary>ILGPU on the first OpenCL device that ILGPU accepts.</summary>
    OpenCL,
    /// <summary>
    /// The ILGPU CPU accelerator, one multiprocessor per core: runs the ILGPU kernels without a GPU (for tests), slower
    /// than <see cref="Simd"/>.
    /// </summary>
    Cpu,
    /// <summary>Plain C# with <c>TensorPrimitives</c> on the host: the fastest CPU path and the reference.</summary>
    Simd,
}

/// <summary>How ILGPU backends multiply matrices (the layers of the gradient kernels).</summary>
public enum MatrixProductChoice
{
    /// <summary>cuBLAS on CUDA devices where a cuBLAS library (11, 12 or 13) loads; ILGPU kernels otherwise.</summary>
    Auto,
    /// <summary>cuBLAS SGEMM; an error where the device is not CUDA or cuBLAS does not load.</summary>
    CuBlas,
    /// <summary>GpuPs's own ILGPU kernel on every device (the CPU accelerator's path; on CUDA, for comparison).</summary>
    Ilgpu,
}

/// <summary>
/// A compute device and the kernels that run on it: ILGPU (CUDA, OpenCL, the CPU accelerator) or plain SIMD C#.
/// Create through <see cref="Accelerators.Create"/>; dispose when done (owns the ILGPU context).
/// Kernel objects it creates must be disposed before it.
/// </summary>
public interface IComputeBackend : IDisposable
{
    /// <summary>The path actually in use (never <see cref="AcceleratorChoice.Auto"/>).</summary>
    AcceleratorChoice Kind { get; }

    /// <summary>Human-readable device description, e.g. "NVIDIA H100 (CUDA)" or "CPU SIMD (AVX2, 2 cores)".</summary>
    string DeviceName { get; }

    /// <summary>
    /// A new gradient kernel for <paramref name="shape"/> on this device, with no data and no parameters loaded.
    /// The caller owns it and disposes it before this backend.
    /// </summary>
    /// <exception cref="ArgumentException">The shape is impossible (see <see cref="ModelShape.Validate"/>).</exception>
    IGradientKernel CreateGradientKernel(ModelShape shape);

    /// <summary>
    /// A new optimizer for parameter vectors of <paramref name="length"/> floats, its state zero and
    /// <see cref="IOptimizerKernel.Steps"/> 0. The caller owns it and disposes it before this backend.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length);
}
