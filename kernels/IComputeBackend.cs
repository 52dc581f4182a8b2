namespace GpuPs.Kernels;

/// <summary>Which compute path to use. <see cref="Auto"/> picks CUDA, then OpenCL, then the fastest CPU path (SIMD).</summary>
public enum AcceleratorChoice { Auto, Cuda, OpenCL, Cpu, Simd }

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

    IGradientKernel CreateGradientKernel(ModelShape shape);

    IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length);
}
