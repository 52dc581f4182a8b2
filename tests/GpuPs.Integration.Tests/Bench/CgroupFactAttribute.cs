using GpuPs.Cli.Bench.Hetero;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>A test that needs CPU-quota cgroups (v1 or v2 with the cpu controller, as root on Linux): skipped with the
/// reason where they cannot be made — never passed vacuously.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CgroupFactAttribute : FactAttribute
{
    private static readonly string? Missing = CpuQuotaGroups.Unavailable();

    public CgroupFactAttribute() => Skip = Missing is null ? null : $"CPU-quota cgroups unavailable: {Missing}";
}
