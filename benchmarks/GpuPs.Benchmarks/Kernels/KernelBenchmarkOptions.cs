using GpuPs.Kernels;

namespace GpuPs.Benchmarks.Kernels;

/// <summary>Sizes and repetitions of <see cref="KernelBenchmark.Run"/>. Defaults: a realistic batch, ~60 s on 2 cores at most.</summary>
public sealed record KernelBenchmarkOptions
{
    /// <summary>Rows of the loss/gradient batch.</summary>
    public int Rows { get; init; } = 4096;
    public int Features { get; init; } = 100;
    /// <summary>Classes of the softmax and MLP models (logistic is binary).</summary>
    public int Classes { get; init; } = 10;
    public int Hidden { get; init; } = 64;
    /// <summary>Length of the parameter vector of the optimizer updates.</summary>
    public int VectorLength { get; init; } = 1 << 20;
    /// <summary>Untimed runs first, at least this many (the first one compiles ILGPU kernels).</summary>
    public int Warmup { get; init; } = 2;
    /// <summary>
    /// Warm-up goes on until the JIT has compiled nothing for this long, for at most <see cref="MaxWarmupTime"/>:
    /// .NET first runs tier-0 code (TensorPrimitives' generic vector code is very slow there) and swaps in optimized
    /// code in the background, later on a busy machine. Measured on 2 loaded cores: SIMD softmax loss+gradient 66 ms
    /// after 2 warm-up runs, 28 ms after 0.5 s, 2.3 ms after 3 s, 1.6–2.9 ms with tiered compilation off.
    /// </summary>
    public TimeSpan JitQuietTime { get; init; } = TimeSpan.FromMilliseconds(300);
    /// <inheritdoc cref="JitQuietTime"/>
    public TimeSpan MaxWarmupTime { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Timed runs; the median is reported.</summary>
    public int Repetitions { get; init; } = 7;
    public bool IncludeIlgpuCpu { get; init; } = true;
    /// <summary>Also time CUDA when a CUDA device exists.</summary>
    public bool IncludeCuda { get; init; } = true;
}
