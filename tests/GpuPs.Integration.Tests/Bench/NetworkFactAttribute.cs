using GpuPs.Cli.Bench.Network;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>A test that needs network namespaces, veth and tc (root on Linux): skipped with the reason where they do not work — never passed vacuously.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NetworkFactAttribute : FactAttribute
{
    private static readonly string? Missing = NetworkLab.Unavailable();

    public NetworkFactAttribute() => Skip = Missing;
}
