using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>Skip reasons for tests that need a device this machine may not have.</summary>
internal static class DeviceAvailability
{
    /// <summary>Null when <paramref name="kind"/> is usable here, else a readable skip reason.</summary>
    public static string? SkipReason(AcceleratorChoice kind) =>
        Accelerators.IsAvailable(kind) ? null : $"no {kind} device on this machine (ILGPU found none); the suite runs where one exists";
}
