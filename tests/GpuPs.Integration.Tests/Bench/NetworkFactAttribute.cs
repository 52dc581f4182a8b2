using GpuPs.Cli.Bench.Network;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>A test that needs network namespaces, veth and tc (root on Linux): skipped with the reason where they do not work — never passed vacuously.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NetworkFactAttribute : FactAttribute
{
    private static readonly string? Missing = NetworkLab.Unavailable();

    public NetworkFactAttribute() => Skip = Missing;
}

/// <summary>Tests that build a <see cref="NetworkLab"/>: one lab per process at a time (its names carry the process id), so they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class NetworkLabCollection
{
    public const string Name = "network lab";
}
