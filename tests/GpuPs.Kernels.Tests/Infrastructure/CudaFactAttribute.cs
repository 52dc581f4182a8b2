using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>A single test that needs a CUDA device: skipped with a clear reason where ILGPU finds none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (DeviceAvailability.SkipReason(AcceleratorChoice.Cuda) is { } reason) Skip = reason;
    }
}
