namespace GpuPs.Worker.Transport;

/// <summary>Which data plane a worker moves tensors over (<c>--transport</c>); control always goes over gRPC.</summary>
public enum TransportChoice
{
    /// <summary>
    /// The framed TCP data plane when the server offers one, else gRPC; on the server's host, with payloads through shared
    /// memory when the server offers it and this process can map it.
    /// </summary>
    Auto,

    /// <summary>gRPC for tensors too (the portable fallback).</summary>
    Grpc,

    /// <summary>The framed TCP data plane; a server that offers none is an error.</summary>
    Tcp,

    /// <summary>
    /// The data plane with payloads through shared memory (the server on this host); a server that offers no data plane or
    /// no shared memory, or a region this process cannot map, is an error.
    /// </summary>
    Shm,
}
