using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace GpuPs.Server;

/// <summary>
/// A listen address (<c>http://HOST:PORT</c>, <c>tcp://HOST:PORT</c>) as a Kestrel endpoint, bound with
/// <c>KestrelServerOptions.Listen</c>, as Kestrel's own URL binding would: an IP address is bound as is, <c>localhost</c>
/// is the IPv4 loopback, any other name (<c>*</c>, <c>+</c>, a host name) every interface.
/// </summary>
internal sealed record KestrelEndpoint(string Scheme, string Host, IPEndPoint EndPoint, bool IsWildcard)
{
    /// <exception cref="ArgumentException"><paramref name="url"/> is not a <paramref name="scheme"/>:// address with a port.</exception>
    public static KestrelEndpoint Parse(string url, string scheme)
    {
        var normalized = url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0");
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Scheme != scheme || uri.Port < 0)
            throw new ArgumentException($"'{url}' is not a {scheme}://HOST:PORT address");
        var host = uri.Host.Trim('[', ']');
        if (host == "localhost") return new(scheme, uri.Host, new IPEndPoint(IPAddress.Loopback, uri.Port), false);
        if (IPAddress.TryParse(host, out var ip))
            return new(scheme, uri.Host, new IPEndPoint(ip, uri.Port), ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));
        return new(scheme, "0.0.0.0", new IPEndPoint(IPAddress.Any, uri.Port), true);
    }

    /// <summary>The address with the port Kestrel bound (the real one when port 0 was asked for).</summary>
    public Uri Bound(ListenOptions listen) => Bound(listen.IPEndPoint!.Port);

    /// <summary>The address with <paramref name="port"/>, the one bound.</summary>
    public Uri Bound(int port) => new UriBuilder(Scheme, Host, port).Uri;
}
