using System.Net;
using System.Net.Sockets;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>Loopback ports for servers a test must reach at a fixed address.</summary>
public static class Ports
{
    /// <summary>A TCP port that was free a moment ago (the OS picked it); nothing listens on it.</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
