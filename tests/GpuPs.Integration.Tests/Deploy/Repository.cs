namespace GpuPs.Integration.Tests.Deploy;

/// <summary>The checkout the tests run from: README, docker/, deploy/ are read from it as users read them.</summary>
public static class Repository
{
    /// <summary>The folder holding <c>GpuPs.sln</c>, found upwards from the test assembly.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GpuPs.sln"))) return dir.FullName;
        throw new InvalidOperationException("GpuPs.sln not found above the test assembly");
    }
}
