using System.Net;
using System.Net.NetworkInformation;

namespace GpuPs.Worker.Transport.Tcp;

/// <summary>Whether an address names this machine, as seen from this process's network namespace.</summary>
internal static class LocalHost
{
    /// <summary>
    /// True for <c>localhost</c>, this machine's host name, a loopback address, or an address of one of this namespace's
    /// interfaces. A name that would need DNS is not resolved: false. A server in another network namespace (another
    /// host's view) is not local, so its workers keep to TCP, whose links may be shaped.
    /// </summary>
    public static bool Is(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.Equals(Dns.GetHostName(), StringComparison.OrdinalIgnoreCase)) return true;
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var address)) return false;
        if (IPAddress.IsLoopback(address)) return true;
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Any(u => u.Address.Equals(address));
        }
        catch (NetworkInformationException) { return false; }
    }
}
