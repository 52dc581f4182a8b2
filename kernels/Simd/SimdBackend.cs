using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuPs.Kernels;

/// <summary>
/// The plain C# backend: <see cref="System.Numerics.Tensors.TensorPrimitives"/> on the host CPU. The fastest CPU path
/// (the ILGPU CPU accelerator emulates GPU threads and does not vectorize) and the reference for the other backends.
/// Thread-safe: kernel objects are independent.
/// </summary>
public sealed class SimdBackend : IComputeBackend
{
    /// <inheritdoc />
    public AcceleratorChoice Kind => AcceleratorChoice.Simd;

    /// <inheritdoc />
    public string DeviceName { get; } = $"CPU SIMD ({InstructionSet()}, {Environment.ProcessorCount} cores)";

    /// <inheritdoc />
    public IGradientKernel CreateGradientKernel(ModelShape shape) => new SimdGradientKernel(shape);

    /// <inheritdoc />
    public IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length) => new SimdOptimizer(settings, length);

    /// <summary>Does nothing: the SIMD backend holds no device or unmanaged resources.</summary>
    public void Dispose() { }

    private static string InstructionSet() =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? "AVX-512"
        : Avx2.IsSupported ? "AVX2"
        : Vector128.IsHardwareAccelerated ? "128-bit SIMD"
        : "scalar";
}
