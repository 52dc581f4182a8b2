using System.Diagnostics;
using System.Globalization;
using Serilog;

namespace GpuPs.Cli.Bench.Network;

/// <summary>One emulated machine: a network namespace with one link to the lab's bridge.</summary>
/// <param name="Name">The role it plays (server0, worker3).</param>
/// <param name="Namespace">The Linux network namespace its processes run in.</param>
/// <param name="Address">Its link-local IPv4 address.</param>
/// <param name="HostLink">The bridge-side end of its veth pair (in the root namespace): its counters are the link's bytes.</param>
/// <param name="RateMbit">The link's rate each way, in Mbit/s; null when unshaped.</param>
public sealed record LabHost(string Name, string Namespace, string Address, string HostLink, double? RateMbit)
{
    /// <summary>The command prefix that runs a program in this host's namespace.</summary>
    public IReadOnlyList<string> Launcher => ["ip", "netns", "exec", Namespace];

    /// <summary>Bytes sent to this host so far (the bridge's side transmits them).</summary>
    public long BytesIn => Counter("tx_bytes");

    /// <summary>Bytes this host sent so far.</summary>
    public long BytesOut => Counter("rx_bytes");

    private long Counter(string name) =>
        long.Parse(File.ReadAllText($"/sys/class/net/{HostLink}/statistics/{name}").Trim(), CultureInfo.InvariantCulture);
}

/// <summary>
/// An emulated network on this Linux machine: a bridge in the root namespace and, per host, a network namespace joined to
/// it by a veth pair, shaped with <c>tc tbf</c> in both directions where the host's link has a rate. Addresses are
/// link-local (169.254.N.0/24, the first N from this process id on that no interface uses). Names carry this process's id (<c>gpups-PID-…</c>, <c>gpbrPID</c>,
/// <c>gpvPIDxI</c>), so <see cref="RemoveStale"/> can delete what a crashed run left behind without touching a live run's.
/// Everything is removed on dispose, also after a failure. Needs root (CAP_NET_ADMIN) and the <c>ip</c> and <c>tc</c> tools.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    private readonly List<LabHost> _hosts = [];
    private readonly ILogger _log;
    private readonly int _id = Environment.ProcessId;
    private readonly int _subnet;
    private readonly string _bridge;

    private NetworkLab(ILogger log)
    {
        _log = log;
        _subnet = FreeSubnet(_id);
        _bridge = $"gpbr{_id}";
    }

    /// <summary>Why namespaces cannot be used here, or null when they can (root, and a probe namespace could be made).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces exist on Linux only";
        if (Environment.UserName != "root" && !IsRootUid()) return "creating network namespaces needs root (CAP_NET_ADMIN)";
        string probe = $"gpups-{Environment.ProcessId}-probe";
        var (code, output) = Run("ip", "netns", "add", probe);
        if (code != 0) return $"'ip netns add' failed: {output.Trim()}";
        Run("ip", "netns", "del", probe);
        var (tcCode, tcOutput) = Run("tc", "-V");
        return tcCode == 0 ? null : $"'tc' is not usable: {tcOutput.Trim()}";
    }

    /// <summary>A lab with its bridge up and no hosts yet; stale labs of dead processes are removed first.</summary>
    public static NetworkLab Create(ILogger log)
    {
        RemoveStale(log);
        var lab = new NetworkLab(log);
        try
        {
            lab.Must("ip", "link", "add", lab._bridge, "type", "bridge");
            lab.Must("ip", "addr", "add", $"169.254.{lab._subnet}.254/24", "dev", lab._bridge);
            lab.Must("ip", "link", "set", lab._bridge, "up");
        }
        catch
        {
            lab.Dispose();
            throw;
        }
        return lab;
    }

    /// <summary>The bridge's own address, in the root namespace: every host reaches it (a user-space proxy can listen there).</summary>
    public string BridgeAddress => $"169.254.{_subnet}.254";

    /// <summary>The hosts added so far.</summary>
    public IReadOnlyList<LabHost> Hosts => _hosts;

    /// <summary>Adds a host whose link runs at <paramref name="rateMbit"/> each way (null: unshaped).</summary>
    public LabHost AddHost(string name, double? rateMbit)
    {
        int index = _hosts.Count;
        if (index >= 250) throw new InvalidOperationException("a lab holds at most 250 hosts");
        var host = new LabHost(name, $"gpups-{_id}-{name}", $"169.254.{_subnet}.{index + 1}", $"gpv{_id}x{index}", rateMbit);
        string inner = $"gpi{_id}x{index}";
        _hosts.Add(host);
        Must("ip", "netns", "add", host.Namespace);
        Must("ip", "link", "add", host.HostLink, "type", "veth", "peer", "name", inner);
        Must("ip", "link", "set", inner, "netns", host.Namespace);
        Must("ip", "link", "set", host.HostLink, "master", _bridge);
        Must("ip", "link", "set", host.HostLink, "up");
        Must("ip", "-n", host.Namespace, "link", "set", "lo", "up");
        Must("ip", "-n", host.Namespace, "addr", "add", $"{host.Address}/24", "dev", inner);
        Must("ip", "-n", host.Namespace, "link", "set", inner, "up");
        if (rateMbit is { } rate)
        {
            // tbf on each end's egress: the host's sending (inner) and its receiving (the bridge side sends to it).
            string[] tbf = ["root", "tbf", "rate", $"{rate.ToString(CultureInfo.InvariantCulture)}mbit", "burst", "256kb", "latency", "100ms"];
            Must(["tc", "qdisc", "add", "dev", host.HostLink, .. tbf]);
            Must(["ip", "netns", "exec", host.Namespace, "tc", "qdisc", "add", "dev", inner, .. tbf]);
        }
        return host;
    }

    /// <summary>Deletes the namespaces and links of this lab.</summary>
    public void Dispose()
    {
        foreach (var host in _hosts)
        {
            Run("ip", "netns", "del", host.Namespace);   // takes the inner veth end, and with it the pair
            Run("ip", "link", "del", host.HostLink);     // in case the namespace was never made
        }
        Run("ip", "link", "del", _bridge);
        _log.Information("Network lab {Bridge} removed ({Hosts} hosts)", _bridge, _hosts.Count);
    }

    /// <summary>Deletes namespaces and links of labs whose process is gone (a run killed before it could clean up).</summary>
    public static void RemoveStale(ILogger log)
    {
        var (_, namespaces) = Run("ip", "netns", "list");
        foreach (var line in namespaces.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            if (name.StartsWith("gpups-", StringComparison.Ordinal) && OwnerGone(name["gpups-".Length..].Split('-')[0]))
            {
                log.Warning("Removing stale network namespace {Namespace}", name);
                Run("ip", "netns", "del", name);
            }
        }
        var (_, links) = Run("ip", "-o", "link", "show");
        foreach (var line in links.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length < 2) continue;
            string name = parts[1].Trim().Split('@')[0];
            string? pid = name.StartsWith("gpbr", StringComparison.Ordinal) ? name[4..]
                : name.StartsWith("gpv", StringComparison.Ordinal) ? name[3..].Split('x')[0] : null;
            if (pid is not null && OwnerGone(pid))
            {
                log.Warning("Removing stale link {Link}", name);
                Run("ip", "link", "del", name);
            }
        }
    }

    /// <summary>A 169.254.N.0/24 no interface here uses yet, starting from one derived from <paramref name="id"/>.</summary>
    private static int FreeSubnet(int id)
    {
        var (_, addresses) = Run("ip", "-o", "-4", "addr", "show");
        for (int k = 0; k < 250; k++)
        {
            int n = 1 + (id + k) % 250;
            if (!addresses.Contains($" 169.254.{n}.", StringComparison.Ordinal)) return n;
        }
        throw new InvalidOperationException("every 169.254.N.0/24 subnet is in use");
    }

    private static bool OwnerGone(string pid) => int.TryParse(pid, out int id) && !Directory.Exists($"/proc/{id}");

    private static bool IsRootUid()
    {
        try { return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0"); }
        catch (IOException) { return false; }
    }

    private void Must(params string[] command)
    {
        var (code, output) = Run(command);
        if (code != 0) throw new InvalidOperationException($"'{string.Join(' ', command)}' failed ({code}): {output.Trim()}");
        _log.Debug("{Command}", string.Join(' ', command));
    }

    private static (int Code, string Output) Run(params string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, $"{command[0]}: {e.Message}");
        }
    }
}
