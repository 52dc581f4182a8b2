using GpuPs.Protocol;

namespace GpuPs.Worker.Transport;

/// <summary>
/// A connection to one parameter shard: the single interface through which tensors move between a worker and a server,
/// so that a faster data plane can replace gRPC without touching training logic.
/// </summary>
/// <remarks>
/// Every call carries a deadline (<paramref>timeout</paramref>, else the client's default) and throws
/// <see cref="Grpc.Core.RpcException"/> on refusal or when the deadline passes. Calls are thread-safe; a pull and a push may
/// run concurrently. Usage:
/// <code>
/// await using var shard = new GrpcShardClient("http://127.0.0.1:5000");
/// var reg = await shard.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, ct);
/// var pulled = await shard.PullAsync(reg.WorkerId, minStep: 0, parameters, ct);
/// await shard.PushAsync(new PushHeader(reg.WorkerId, pulled.Step, pulled.Shard, rows, loss), gradient, ct);
/// </code>
/// </remarks>
public interface IShardClient : IAsyncDisposable
{
    /// <summary>Address of the shard's server.</summary>
    string Address { get; }

    Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>Waits until the shard reaches <paramref name="minStep"/>, then copies its parameters into <paramref name="destination"/> (exactly the shard's length).</summary>
    Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>Pushes one gradient sum for the whole shard, streamed in chunks.</summary>
    Task<PushReply> PushAsync(PushHeader header, ReadOnlyMemory<float> gradientSum, CancellationToken cancellationToken, TimeSpan? timeout = null);

    Task<HeartbeatReply> HeartbeatAsync(int workerId, long step, CancellationToken cancellationToken, TimeSpan? timeout = null);

    Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null);
}
