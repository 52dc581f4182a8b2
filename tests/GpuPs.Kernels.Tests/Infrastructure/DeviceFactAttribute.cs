using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>A single test that needs a device: skipped with a reason where ILGPU finds none — never passed vacuously.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DeviceFactAttribute : FactAttribute
{
    public DeviceFactAttribute(AcceleratorChoice kind) => Skip = DeviceAvailability.SkipReason(kind);
}

/// <summary>A single test of what happens without a device: skipped with a reason where ILGPU finds one.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NoDeviceFactAttribute : FactAttribute
{
    public NoDeviceFactAttribute(AcceleratorChoice kind)
    {
        if (Accelerators.IsAvailable(kind)) Skip = $"this machine has a {kind} device; the test checks the error given without one";
    }
}
