namespace GpuPs.Cli.Cluster;

/// <summary>The role a process of an <see cref="EmbeddedCluster"/> plays.</summary>
public enum ClusterRole
{
    /// <summary>A shard server (<c>gpups server</c>).</summary>
    Server,

    /// <summary>A worker (<c>gpups worker</c>).</summary>
    Worker,
}

/// <summary>
/// Puts an <see cref="EmbeddedCluster"/>'s processes where they should run (for example a CPU-quota cgroup per worker),
/// restarts included: each server and worker process is started through the command prefix it gives, which must exec
/// gpups in place (see <see cref="ChildProcess.Start"/>), so gpups runs there from its first instruction — the .NET
/// runtime sizes its thread pool and GC from the CPUs it finds at start-up.
/// </summary>
public interface IProcessPlacement
{
    /// <summary>The command prefix that starts <paramref name="role"/> number <paramref name="index"/> in its place.</summary>
    IReadOnlyList<string> Launcher(ClusterRole role, int index);
}
