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
    public void AutoPicksCudaThenOpenCLThenSimdButNeverTheIlgpuCpuAccelerator()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.Auto);
        var expected = Accelerators.IsAvailable(AcceleratorChoice.Cuda) ? AcceleratorChoice.Cuda
            : Accelerators.IsAvailable(AcceleratorChoice.OpenCL) ? AcceleratorChoice.OpenCL
            : AcceleratorChoice.Simd;
        Assert.Equal(expected, backend.Kind);
    }

    [NoDeviceFact(AcceleratorChoice.Cuda)]
    public void MissingCudaGivesAClearError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Accelerators.Create(AcceleratorChoice.Cuda));
        Assert.Contains("no CUDA device found", error.Message);
    }

    [NoDeviceFact(AcceleratorChoice.OpenCL)]
    public void MissingOpenCLGivesAClearError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Accelerators.Create(AcceleratorChoice.OpenCL));
        Assert.Contains("no usable OpenCL device found", error.Message);
    }

    [DeviceFact(AcceleratorChoice.Cuda)]
    public void CudaBackendNamesItsDevice()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.Cuda);
        Assert.Equal(AcceleratorChoice.Cuda, backend.Kind);
        Assert.Contains("Cuda", backend.DeviceName);
    }

    [DeviceFact(AcceleratorChoice.OpenCL)]
    public void OpenCLBackendNamesItsDevice()
    {
        using var backend = Accelerators.Create(AcceleratorChoice.OpenCL);
        Assert.Equal(AcceleratorChoice.OpenCL, backend.Kind);
        Assert.False(string.IsNullOrWhiteSpace(backend.DeviceName));
    }

    /// <summary>cuBLAS asked for on a device that cannot run it is its own error, not "no device".</summary>
    [Fact]
    public void CuBlasOnTheCpuAcceleratorIsRefusedWithTheReason()
    {
        var e = Assert.Throws<MatrixProductUnavailableException>(() => Accelerators.Create(AcceleratorChoice.Cpu, products: MatrixProductChoice.CuBlas));
        Assert.Contains("needs a CUDA device", e.Message);
    }
}
