namespace GpuPs.Worker.Transport.Tcp;

/// <summary>Whether a <see cref="TcpTensorChannel"/>'s connections move payloads through a shared-memory region.</summary>
public enum SharedMemoryUse
{
    /// <summary>Never: payloads go over the socket.</summary>
    None,

    /// <summary>Ask for a region on each new connection until one is refused, then go on over the socket (<c>--transport auto</c> on this host).</summary>
    Try,

    /// <summary>Every connection must attach one; a refused region fails the call (<c>--transport shm</c>).</summary>
    Require,
}
