namespace GpuPs.Server.DataPlane;

/// <summary>
/// Where a server's framed TCP data plane listens, as registration replies advertise it (<c>RegisterReply.data_port</c>,
/// <c>data_host</c>). Set once the listener is bound; port 0 until then, and for a server without a data plane.
/// </summary>
public sealed class DataPlaneAdvert
{
    /// <summary>The bound port; 0: no data plane (workers use gRPC).</summary>
    public int Port { get; internal set; }

    /// <summary>The host to reach it at; empty when it listens on every interface (workers use the host they reached the server at).</summary>
    public string Host { get; internal set; } = "";

    /// <summary>Adds the advert to a registration reply.</summary>
    public Protocol.RegisterReply AddTo(Protocol.RegisterReply reply)
    {
        reply.DataPort = Port;
        reply.DataHost = Host;
        return reply;
    }
}
