using GpuPs.Kernels;

namespace GpuPs.Benchmarks.Kernels;

/// <summary>
/// One timed kernel on one backend: median wall time of the warm repetitions, the ratio to the SIMD backend's median
/// for the same kernel (1 for SIMD itself; above 1 is slower), and a note with the work size and throughput.
/// </summary>
public sealed record KernelBenchmarkResult(string Kernel, string Backend, double MedianMs, double RatioToSimd, string Note);
