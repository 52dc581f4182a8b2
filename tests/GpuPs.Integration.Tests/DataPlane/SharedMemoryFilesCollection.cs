namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// Test classes that assert on this process's shared-memory files (<see cref="SharedMemoryTests.Regions"/>), or make
/// regions over loopback, run one at a time, so that none counts a region another class holds at that moment.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SharedMemoryFilesCollection
{
    public const string Name = "shared-memory files";
}
