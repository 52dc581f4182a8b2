using GpuPs.Benchmarks.Kernels;

namespace GpuPs.Integration.Tests.Bench;

public sealed class KernelBenchmarkTests
{
    [Fact]
    public void TinyRunReturnsOneRecordPerKernelAndBackendWithSimdAsBaseline()
    {
        var options = new KernelBenchmarkOptions
        {
            Rows = 64, Features = 8, Classes = 3, Hidden = 4, VectorLength = 1000,
            Warmup = 1, Repetitions = 3, MaxWarmupTime = TimeSpan.Zero, IncludeCuda = false,
        };
        var progress = new List<string>();

        var results = KernelBenchmark.Run(options, progress.Add);

        // 3 models, 3 optimizers, on SIMD and the ILGPU CPU accelerator.
        Assert.Equal(12, results.Count);
        Assert.Equal(results.Count, progress.Count);
        Assert.Equal(6, results.Select(r => r.Kernel).Distinct().Count());
        Assert.All(results, r => Assert.True(r.MedianMs > 0 && double.IsFinite(r.RatioToSimd), $"{r}"));
        Assert.All(results.Where(r => r.Backend.StartsWith("CPU SIMD")), r => Assert.Equal(1.0, r.RatioToSimd));
        Assert.All(results, r => Assert.Contains("/s", r.Note));
    }
}
