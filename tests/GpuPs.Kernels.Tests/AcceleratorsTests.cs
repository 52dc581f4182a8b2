using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

public sealed class AcceleratorsTests
{
    [Theory]
    [InlineData(AcceleratorChoice.Simd)]
    [InlineData(AcceleratorChoice.Cpu)]
    public void CpuBackendsAreAlwaysAvailable(AcceleratorChoice choice)
    {
        using var backend = Accelerators.Create(choice);
        Assert.Equal(choice, backend.Kind);
        Assert.False(string.IsNullOrWhiteSpace(backend.DeviceName));
    }

    [Fact]
    public void AutoPicksCudaWhenPresentOtherwiseNeverTheIlgpuCpuAccelerator()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.Auto);
        Assert.NotEqual(AcceleratorChoice.Auto, backend.Kind);
        Assert.NotEqual(AcceleratorChoice.Cpu, backend.Kind);
        if (Accelerators.IsAvailable(AcceleratorChoice.Cuda)) Assert.Equal(AcceleratorChoice.Cuda, backend.Kind);
    }

    [Fact]
    public void MissingCudaGivesAClearError()
    {
        if (Accelerators.IsAvailable(AcceleratorChoice.Cuda)) return;  // nothing to check where CUDA exists
        var error = Assert.Throws<InvalidOperationException>(() => Accelerators.Create(AcceleratorChoice.Cuda));
        Assert.Contains("no CUDA device found", error.Message);
    }

    [CudaFact]
    public void CudaBackendNamesItsDevice()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.Cuda);
        Assert.Equal(AcceleratorChoice.Cuda, backend.Kind);
        Assert.Contains("Cuda", backend.DeviceName);
    }
}
