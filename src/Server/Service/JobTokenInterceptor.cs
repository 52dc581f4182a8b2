using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GpuPs.Server;

/// <summary>
/// Refuses every call that does not carry the job's token (<see cref="JobToken.Matches"/>, constant time) with
/// UNAUTHENTICATED, before the service or the shard sees it: nothing is read from a push stream and nothing changes.
/// Refusals are logged through <see cref="RefusalLog"/>.
/// </summary>
/// <remarks>
/// Covers the two kinds of method <see cref="ParameterServerService"/> has, unary (Register, Pull, Heartbeat, Status) and
/// client streaming (Push); a method of another kind would need its handler here too.
/// </remarks>
public sealed class JobTokenInterceptor(JobToken token, RefusalLog refusals) : Interceptor
{
    /// <summary>Continues a unary call that carries the job's token; refuses any other with UNAUTHENTICATED.</summary>
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    /// <summary>
    /// Continues a client-streaming call (Push) that carries the job's token; refuses any other with UNAUTHENTICATED
    /// before reading the stream.
    /// </summary>
    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    /// <summary>The standard health service's methods, open to probes without the token (they reveal nothing of the job).</summary>
    private const string HealthService = "/grpc.health.v1.Health/";

    private void Authenticate(ServerCallContext context)
    {
        if (context.Method.StartsWith(HealthService, StringComparison.Ordinal)) return;
        if (token.Matches(context.RequestHeaders.GetValue(JobToken.MetadataKey))) return;
        refusals.Refused(context.Method, context.Peer, "no valid job token");
        throw WireStatus.ToRpc(new ShardException(ShardErrorKind.Unauthenticated,
            $"the call carries no valid job token (metadata '{JobToken.MetadataKey}: Bearer TOKEN')"));
    }
}
