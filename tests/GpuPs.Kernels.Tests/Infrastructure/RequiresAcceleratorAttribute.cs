using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// On a test class: its <see cref="BackendFactAttribute"/> tests are skipped (with a reason) when
/// <see cref="Accelerators.IsAvailable"/> says the device is missing.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresAcceleratorAttribute(AcceleratorChoice kind) : Attribute
{
    public AcceleratorChoice Kind { get; } = kind;
}
