using Grpc.Core;

namespace GpuPs.Protocol;

/// <summary>
/// A refused request: carries the gRPC status code that the service returns and a message a person can act on.
/// Domain code throws it; the gRPC layer maps it to <see cref="RpcException"/> with the same code and message.
/// </summary>
public sealed class GpuPsException(StatusCode code, string message) : Exception(message)
{
    public StatusCode Code { get; } = code;
}
