using GpuPs.Kernels;

namespace GpuPs.Benchmarks.Gpu;

/// <summary>
/// Sizes of <see cref="GpuBenchmark.Run"/>. Defaults: issue 14's larger workload, a 784-1280-10 MLP (1,017,610
/// parameters) on 32,768-row batches, and 1 GiB copies, as <c>benchmarks/gpu/torch_reference.py</c> times them.
/// </summary>
public sealed record GpuBenchmarkOptions
{
    /// <summary>The device: CUDA on the GPU machine; the ILGPU CPU accelerator runs the same code in CI with small sizes.</summary>
    public AcceleratorChoice Accelerator { get; init; } = AcceleratorChoice.Cuda;
    /// <summary>Rows per gradient step.</summary>
    public int Rows { get; init; } = 32768;
    public int Features { get; init; } = 784;
    public int Hidden { get; init; } = 1280;
    public int Classes { get; init; } = 10;
    /// <summary>Floats per device-to-device copy (the bandwidth baseline): 1 GiB.</summary>
    public int CopyLength { get; init; } = 256 << 20;
    /// <summary>Floats per vector of the optimizer updates (Adam touches four such vectors).</summary>
    public int VectorLength { get; init; } = 64 << 20;
    /// <summary>Untimed runs first (the first compiles the ILGPU kernels and loads cuBLAS).</summary>
    public int Warmup { get; init; } = 3;
    /// <summary>Timed runs, each synchronized with the device; mean and percentiles are reported.</summary>
    public int Repetitions { get; init; } = 30;
    /// <summary>A CSV written by torch_reference.py on the same GPU in the same run: rows get their ratio to it.</summary>
    public string? TorchReference { get; init; }
}
