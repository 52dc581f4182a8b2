using System.Globalization;
using GpuPs.Cli.Cluster;
using Serilog;

namespace GpuPs.Cli.Bench.Hetero;

/// <summary>
/// One CPU-quota cgroup per process of a cluster, so that each process is a device of its own speed: a group's quota is
/// its share of the CPUs, and the quotas sum to less than the machine's cores, so no group waits for another (the
/// independence the ideal bound assumes). Every group has the maximum weight, so other load on the machine cannot push
/// it below its quota either (with weights in proportion to the quotas, proportional 1 : 2 : 4 measured 1.11× and then
/// 1.29× its bound as the load average rose from 37 to 60): while a run is on, the cluster takes the CPU it was given from everything else, and
/// the quotas, not the weights, set the speeds. Group names are <c>gpups-PID-ROLEINDEX</c> (PID: this process), so <see cref="RemoveStale"/>
/// removes what a killed run left behind without touching a live run's; <see cref="Dispose"/> removes this run's groups,
/// also after a failure.
/// </summary>
public sealed class CpuQuotaGroups : IProcessPlacement, IDisposable
{
    /// <summary>Prefix of every group this class makes.</summary>
    public const string Prefix = "gpups-";

    private readonly CpuCgroupHierarchy _hierarchy;
    private readonly ILogger _log;
    private readonly Dictionary<(ClusterRole, int), string> _groups = [];

    private CpuQuotaGroups(CpuCgroupHierarchy hierarchy, ILogger log)
    {
        _hierarchy = hierarchy;
        _log = log;
    }

    /// <summary>The hierarchy the groups are in.</summary>
    public CpuCgroupHierarchy Hierarchy => _hierarchy;

    /// <summary>Why CPU-quota groups cannot be used here, or null when they can (a probe group could be made).</summary>
    public static string? Unavailable() => CpuCgroupHierarchy.Find(out string reason) is null ? reason : null;

    /// <summary>
    /// Groups for one cluster: <paramref name="cores"/> gives each role's CPUs (a fraction of a core is fine, down to
    /// 1 ms per period), in one period long enough for the smallest quota (at least 10 ms: a step spans many periods, so
    /// the quota's on/off pattern averages out). Stale groups of dead runs are removed first.
    /// </summary>
    /// <exception cref="InvalidOperationException">No usable CPU hierarchy (the reason is in the message), or the quotas
    /// sum to the machine's cores or more (they would no longer be independent).</exception>
    public static CpuQuotaGroups Create(IReadOnlyDictionary<(ClusterRole Role, int Index), double> cores, ILogger log)
    {
        double total = cores.Values.Sum();
        if (cores.Count == 0 || cores.Values.Any(c => !(c > 0)) || !(total < Environment.ProcessorCount))
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"CPU quotas must be positive and sum to less than the {Environment.ProcessorCount} cores (they sum to {total:G4})"));
        var hierarchy = CpuCgroupHierarchy.Find(out string reason) ?? throw new InvalidOperationException($"CPU quota groups are unavailable: {reason}");
        RemoveStale(hierarchy, log);
        int period = PeriodFor(cores.Values.Min());
        var groups = new CpuQuotaGroups(hierarchy, log);
        try
        {
            foreach (var ((role, index), c) in cores)
            {
                int weight = hierarchy.MaxWeight;
                string name = $"{Prefix}{Environment.ProcessId}-{role.ToString().ToLowerInvariant()}{index}";
                groups._groups[(role, index)] = hierarchy.Create(name, c, period, weight);
                log.Information("CPU group {Group}: {Cores:G3} cores ({Quota} us per {Period} us), weight {Weight}", name, c,
                    (long)Math.Round(c * period), period, weight);
            }
        }
        catch
        {
            groups.Dispose();
            throw;
        }
        return groups;
    }

    /// <summary>The CPU period for a smallest quota of <paramref name="minCores"/>: 10 ms, or longer where 1 ms would be
    /// more than that quota.</summary>
    public static int PeriodFor(double minCores) =>
        (int)Math.Clamp(Math.Ceiling(CpuCgroupHierarchy.MinQuotaMicroseconds / minCores), 10_000, CpuCgroupHierarchy.MaxPeriodMicroseconds);

    /// <summary>The group folder of <paramref name="role"/> number <paramref name="index"/>.</summary>
    public string PathOf(ClusterRole role, int index) => _groups[(role, index)];

    /// <inheritdoc/>
    /// <remarks>A shell that writes its own id into the group's <c>cgroup.procs</c> and then execs the command: the
    /// runtime then sees the quota when it starts and sizes itself to it (on .NET, <c>Environment.ProcessorCount</c> is
    /// the quota rounded up). Moving a running process in instead left a worker with a fifth of a core spinning its
    /// two-core thread pool: 8.4× the unit step where its quota says 2.3×.</remarks>
    /// <exception cref="InvalidOperationException">No group was made for that role and index.</exception>
    public IReadOnlyList<string> Launcher(ClusterRole role, int index)
    {
        if (!_groups.TryGetValue((role, index), out var path))
            throw new InvalidOperationException($"no CPU group for {role} {index}");
        _log.Information("{Role} {Index} starts in CPU group {Group}", role, index, Path.GetFileName(path));
        return ["/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", Path.Join(path, CpuCgroupHierarchy.ProcsFile)];
    }

    /// <summary>Removes the groups of runs whose process is gone (a run killed before it could clean up).</summary>
    public static void RemoveStale(CpuCgroupHierarchy hierarchy, ILogger log)
    {
        foreach (var path in Directory.EnumerateDirectories(hierarchy.Parent, Prefix + "*"))
        {
            var owner = Path.GetFileName(path)[Prefix.Length..].Split('-')[0];
            if (!int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Directory.Exists($"/proc/{pid}")) continue;
            var error = hierarchy.Remove(path);
            if (error is null) log.Warning("Removed stale CPU group {Group} (its run, process {Pid}, is gone)", path, pid);
            else log.Warning("Could not remove stale CPU group {Group}: {Error}", path, error);
        }
    }

    /// <summary>Removes every group of this run (processes still in one go back to the parent group first).</summary>
    public void Dispose()
    {
        foreach (var path in _groups.Values)
            if (_hierarchy.Remove(path) is { } error) _log.Warning("Could not remove CPU group {Group}: {Error}", path, error);
        _groups.Clear();
    }
}
