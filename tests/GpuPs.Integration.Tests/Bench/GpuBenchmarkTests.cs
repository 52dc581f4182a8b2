using GpuPs.Benchmarks.Gpu;
using GpuPs.Kernels;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// <c>gpups bench gpu</c> on the ILGPU CPU accelerator (CI's stand-in for CUDA), tiny sizes: every measurement is
/// there, throughputs follow from the sizes, and the PyTorch CSV of the same run turns into ratios.
/// </summary>
public sealed class GpuBenchmarkTests : IDisposable
{
    private readonly string _torchCsv = Path.Combine(Path.GetTempPath(), $"gpups-torch-{Guid.NewGuid():N}.csv");

    public void Dispose() => File.Delete(_torchCsv);

    [Fact]
    public void TinyRunMeasuresCopyUpdatesAndStepsAgainstTorch()
    {
        File.WriteAllLines(_torchCsv,
        [
            "device,what,rows,parameters,mean_ms,p50_ms,gb_per_s,tflop_per_s",
            "NVIDIA H100 80GB HBM3,copy d2d 1GiB,0,0,0.71,0.70,3000.0,",
            "NVIDIA H100 80GB HBM3,mlp explicit cublas,64,1000,3.5,2.5,,56.1",
            "NVIDIA H100 80GB HBM3,softmax autograd,64,100,0.27,0.25,,",
        ]);
        var options = new GpuBenchmarkOptions
        {
            Accelerator = AcceleratorChoice.Cpu, Rows = 64, Features = 8, Hidden = 16, Classes = 3,
            CopyLength = 1 << 16, VectorLength = 1 << 12, Warmup = 1, Repetitions = 3, TorchReference = _torchCsv,
        };
        var progress = new List<string>();

        var rows = GpuBenchmark.Run(options, progress.Add);

        // The copy, three optimizer updates, the MLP's 195 parameters both ways from pageable and page-locked memory, and
        // two models' steps alone and with transfers (one product path on the CPU accelerator).
        Assert.Equal(["copy d2d 256KiB", "Sgd update 16KiB", "Momentum update 16KiB", "Adam update 16KiB",
            "upload 780B pageable", "upload 780B page-locked", "download 780B pageable", "download 780B page-locked",
            "Softmax step 64x8-3", "Softmax step 64x8-3 + transfers page-locked", "Softmax step 64x8-3 + transfers pageable",
            "Mlp step 64x8-16-3", "Mlp step 64x8-16-3 + transfers page-locked", "Mlp step 64x8-16-3 + transfers pageable"], rows.Select(r => r.What));
        Assert.Equal(rows.Count, progress.Count);
        Assert.All(rows, r => Assert.True(r.MeanMs > 0 && r.P50Ms > 0 && r.P99Ms >= r.P50Ms, $"{r}"));
        var copy = rows[0];
        Assert.Equal(2.0 * (1 << 16) * sizeof(float) / (copy.P50Ms / 1e3) / 1e9, copy.GbPerSecond, 6);
        Assert.Equal(copy.GbPerSecond / 3000.0, copy.ShareOfBaseline, 6);
        // Adam reads parameters, gradient and both moments and writes three of them: 28 bytes a value.
        var adam = rows[3];
        Assert.Equal(28.0 * (1 << 12) / (adam.P50Ms / 1e3) / 1e9, adam.GbPerSecond, 6);
        Assert.Equal(adam.GbPerSecond / copy.GbPerSecond, adam.ShareOfBaseline, 6);
        // PyTorch's step time over ours (p50 against p50); steps with transfers have no PyTorch counterpart.
        var mlp = rows[11];
        Assert.Equal(2.5 / mlp.P50Ms, mlp.ShareOfBaseline, 6);
        // Multiply-adds: layer 1 forward and weight gradient (8·16 each), layer 2 forward, weight gradient and W2ᵀr (3·16·3 each).
        Assert.Equal(2.0 * 64 * (2 * 16 * 8 + 3 * 3 * 16) / (mlp.P50Ms / 1e3) / 1e12, mlp.TflopPerSecond, 9);
        Assert.Equal("ILGPU kernel", mlp.Products);
        Assert.Equal("", copy.Products);
        Assert.True(double.IsNaN(rows[12].ShareOfBaseline));
    }

    [NoCudaFact]
    public void WithoutACudaDeviceTheRefusalNamesTheAcceleratorThatRunsIt()
    {
        var e = Assert.Throws<InvalidOperationException>(() => GpuBenchmark.Run(new GpuBenchmarkOptions { Accelerator = AcceleratorChoice.Cuda }));
        Assert.Contains("no cuda device found; --accelerator cpu runs it", e.Message);
        Assert.DoesNotContain("simd", e.Message);
    }

    /// <summary>Runs where no CUDA device is present (CI); skipped with the reason on a GPU machine, where bench gpu runs.</summary>
    private sealed class NoCudaFactAttribute : FactAttribute
    {
        public NoCudaFactAttribute()
        {
            if (Accelerators.IsAvailable(AcceleratorChoice.Cuda)) Skip = "a CUDA device is present: gpups bench gpu runs instead of refusing";
        }
    }

    [Fact]
    public void SimdIsRefusedWithTheReason()
    {
        var e = Assert.Throws<ArgumentException>(() => GpuBenchmark.Run(new GpuBenchmarkOptions { Accelerator = AcceleratorChoice.Simd }));
        Assert.Contains("ILGPU device", e.Message);
    }
}
