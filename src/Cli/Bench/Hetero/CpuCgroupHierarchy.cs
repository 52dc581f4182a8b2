using System.Globalization;

namespace GpuPs.Cli.Bench.Hetero;

/// <summary>
/// Where this machine's CPU controller is and how to set a group's quota: cgroup v1 (a hierarchy with the <c>cpu</c>
/// controller, <c>cpu.cfs_quota_us</c>/<c>cpu.cfs_period_us</c>, weight <c>cpu.shares</c>) or cgroup v2 (a unified
/// hierarchy whose <c>cgroup.controllers</c> lists <c>cpu</c>: <c>cpu.max</c>, weight <c>cpu.weight</c>). Groups are made
/// under the cgroup this process is in (the hierarchy's root on a plain machine), found from <c>/proc/self/cgroup</c>.
/// v1 wins where both exist: on a hybrid machine the CPU controller is bound to v1 and v2 has none.
/// </summary>
/// <param name="Version">1 or 2.</param>
/// <param name="Parent">The folder groups are made in.</param>
public sealed record CpuCgroupHierarchy(int Version, string Parent)
{
    /// <summary>Shortest quota per period the kernel accepts (1 ms, both versions).</summary>
    public const int MinQuotaMicroseconds = 1000;

    /// <summary>Longest period the kernel accepts (1 s).</summary>
    public const int MaxPeriodMicroseconds = 1_000_000;

    /// <summary>Largest weight: v1 <c>cpu.shares</c> 262144, v2 <c>cpu.weight</c> 10000.</summary>
    public int MaxWeight => Version == 1 ? 262_144 : 10_000;

    /// <summary>The file a process id is written to, to move the whole process (every thread) into a group.</summary>
    public const string ProcsFile = "cgroup.procs";

    /// <summary>
    /// The CPU hierarchy of this machine, or null with <paramref name="reason"/> saying why there is none usable:
    /// not Linux, no cgroup mount with the CPU controller, or no write access (creating groups needs root).
    /// </summary>
    public static CpuCgroupHierarchy? Find(out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux()) { reason = "cgroups exist on Linux only"; return null; }
        string[] mounts, own;
        try
        {
            mounts = File.ReadAllLines("/proc/mounts");
            own = File.ReadAllLines("/proc/self/cgroup");
        }
        catch (IOException e) { reason = $"cannot read the cgroup mounts: {e.Message}"; return null; }
        CpuCgroupHierarchy? found = null;
        foreach (var fields in mounts.Select(l => l.Split(' ')).Where(f => f.Length >= 4))
        {
            if (fields[2] == "cgroup" && fields[3].Split(',').Contains("cpu"))
            {
                found = new CpuCgroupHierarchy(1, Path.Join(fields[1], OwnPath(own, l => l.Split(':', 3) is [_, var c, _] && c.Split(',').Contains("cpu"))));
                break;
            }
            if (fields[2] == "cgroup2" && found is null)
            {
                var candidate = new CpuCgroupHierarchy(2, Path.Join(fields[1], OwnPath(own, l => l.StartsWith("0::", StringComparison.Ordinal))));
                if (File.Exists(Path.Join(candidate.Parent, "cgroup.controllers"))
                    && File.ReadAllText(Path.Join(candidate.Parent, "cgroup.controllers")).Split(' ', '\n').Contains("cpu"))
                    found = candidate;
            }
        }
        if (found is null) reason = "no cgroup hierarchy here has the cpu controller (v1 'cpu' mount, or v2 with 'cpu' in cgroup.controllers)";
        else if (!Writable(found.Parent)) { reason = $"{found.Parent} is not writable (creating CPU groups needs root)"; return null; }
        return found;
    }

    /// <summary>Creates group <paramref name="name"/> with a quota of <paramref name="cores"/> CPUs per
    /// <paramref name="periodMicroseconds"/> and <paramref name="weight"/>; returns its folder.</summary>
    /// <exception cref="IOException">The kernel refused the group or a setting (the message names the file).</exception>
    public string Create(string name, double cores, int periodMicroseconds, int weight)
    {
        string path = Path.Join(Parent, name);
        if (Version == 2) EnableCpuForChildren();
        Directory.CreateDirectory(path);
        long quota = Math.Max(MinQuotaMicroseconds, (long)Math.Round(cores * periodMicroseconds));
        if (Version == 1)
        {
            Write(path, "cpu.cfs_period_us", periodMicroseconds.ToString(CultureInfo.InvariantCulture));
            Write(path, "cpu.cfs_quota_us", quota.ToString(CultureInfo.InvariantCulture));
            Write(path, "cpu.shares", weight.ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            Write(path, "cpu.max", string.Create(CultureInfo.InvariantCulture, $"{quota} {periodMicroseconds}"));
            Write(path, "cpu.weight", weight.ToString(CultureInfo.InvariantCulture));
        }
        return path;
    }

    /// <summary>Times the kernel held group <paramref name="path"/>'s processes back for its quota so far
    /// (<c>nr_throttled</c> in its <c>cpu.stat</c>).</summary>
    public static long ThrottledPeriods(string path) =>
        File.ReadLines(Path.Join(path, "cpu.stat")).Select(l => l.Split(' ')).Where(f => f is ["nr_throttled", _])
            .Select(f => long.Parse(f[1], CultureInfo.InvariantCulture)).FirstOrDefault();

    /// <summary>
    /// Removes the group at <paramref name="path"/>: processes still in it go back to <see cref="Parent"/> (a group with
    /// processes cannot be removed), then the folder. Returns the error, or null when it is gone.
    /// </summary>
    public string? Remove(string path)
    {
        if (!Directory.Exists(path)) return null;
        try
        {
            foreach (var pid in File.ReadAllLines(Path.Join(path, ProcsFile)).Where(l => l.Length > 0))
                try { File.WriteAllText(Path.Join(Parent, ProcsFile), pid); }
                catch (IOException) { }   // it exited meanwhile
            Directory.Delete(path);   // rmdir: a cgroup's files are not real files and go with it
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return e.Message; }
    }

    private void EnableCpuForChildren()
    {
        var control = Path.Join(Parent, "cgroup.subtree_control");
        if (!File.ReadAllText(control).Split(' ', '\n').Contains("cpu")) Write(Parent, "cgroup.subtree_control", "+cpu");
    }

    private static void Write(string path, string file, string value)
    {
        try { File.WriteAllText(Path.Join(path, file), value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"writing '{value}' to {Path.Join(path, file)} failed: {e.Message}", e);
        }
    }

    private static string OwnPath(string[] own, Func<string, bool> isController) =>
        own.FirstOrDefault(isController)?.Split(':', 3)[2].TrimStart('/') ?? "";

    private static bool Writable(string folder)
    {
        string probe = Path.Join(folder, $"gpups-{Environment.ProcessId}-probe");
        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
