using System.Net.Sockets;
using GpuPs.Core.Security;
using Microsoft.AspNetCore.Http;

namespace GpuPs.Server;

/// <summary>
/// Refuses every call that does not carry the job's token (<see cref="JobToken.Matches"/>, constant time) with
/// UNAUTHENTICATED from its headers alone, before gRPC reads a byte of its message and before the service or the shard
/// sees it: nothing is read and nothing changes. Refusals are logged through <see cref="RefusalLog"/>.
/// </summary>
/// <remarks>
/// An ASP.NET Core middleware rather than a gRPC interceptor: grpc-dotnet runs interceptors of unary calls (Register,
/// Pull, Heartbeat, Status, AwaitPushTurn) only once it has read their whole request message, and waits for the end of
/// the request stream first. A caller without the token could then make the server hold up to
/// <c>--max-message-bytes</c> (4 MiB) per call by sending a message and never ending its stream: 40 such calls held
/// 100 MiB of a `gpups server`'s memory, and a client may have 32 on a connection and 1024 connections. Here the answer
/// is a trailers-only gRPC response (HTTP 200, <c>grpc-status: 16</c>) sent without reading the request body; Kestrel
/// then resets the stream and drops whatever of the body was in flight.
/// </remarks>
public sealed class JobTokenGate(JobToken token, RefusalLog refusals)
{
    /// <summary>The standard health service's methods, open to probes without the token (they reveal nothing of the job).</summary>
    private const string HealthService = "/grpc.health.v1.Health/";

    /// <summary>The refusal's status message; printable ASCII without '%', so it goes into <c>grpc-message</c> as it is.</summary>
    public const string Refusal = "the call carries no valid job token (metadata '" + JobToken.MetadataKey + ": Bearer TOKEN')";

    /// <summary>Passes a call that carries the job's token (or a health probe) to <paramref name="next"/>; answers any other UNAUTHENTICATED.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith(HealthService, StringComparison.Ordinal)) return next(context);
        if (token.Matches(context.Request.Headers[JobToken.MetadataKey].FirstOrDefault())) return next(context);
        refusals.Refused(path, PeerOf(context), "no valid job token");
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = "16";   // UNAUTHENTICATED
        response.Headers["grpc-message"] = Refusal;
        return Task.CompletedTask;
    }

    /// <summary>The caller's address as grpc-dotnet names a call's peer (<c>ipv4:127.0.0.1:43832</c>), for the refusal's log line.</summary>
    private static string PeerOf(HttpContext context)
    {
        var connection = context.Connection;
        if (connection.RemoteIpAddress is not { } address) return "unknown";
        return address.AddressFamily == AddressFamily.InterNetworkV6
            ? $"ipv6:[{address}]:{connection.RemotePort}"
            : $"ipv4:{address}:{connection.RemotePort}";
    }
}
