namespace GpuPs.Worker.Transport;

/// <summary>Which data plane a worker moves tensors over (<c>--transport</c>); control always goes over gRPC.</summary>
public enum TransportChoice
{
    /// <summary>The framed TCP data plane when the server offers one, else gRPC.</summary>
    Auto,

    /// <summary>gRPC for tensors too (the portable fallback).</summary>
    Grpc,

    /// <summary>The framed TCP data plane; a server that offers none is an error.</summary>
    Tcp,
}
