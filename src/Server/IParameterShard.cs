using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Server;

/// <summary>
/// One parameter shard and its aggregation state: the domain object behind a transport (the gRPC service is one).
/// All members are thread-safe. A malformed request throws <see cref="ShardException"/> and changes nothing.
/// </summary>
public interface IParameterShard
{
    ShardInfo Info { get; }

    RegisterReply Register(RegisterRequest request);

    /// <summary>Completes when the shard's step is at least <paramref name="minStep"/> or the job has finished.</summary>
    Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken);

    /// <summary>Copies the shard's parameters (length <c>Info.Length</c>) into <paramref name="destination"/>, atomically with the step returned.</summary>
    PullResult CopyParameters(Span<float> destination);

    /// <summary>
    /// Answers a push from its header alone, as soon as its first chunk arrives, so that a push the shard would refuse
    /// anyway (a straggler's push for a closed step, an unknown worker) is refused before its tensor crosses the network.
    /// Applied (not closed) means admissible.
    /// </summary>
    PushOutcome Admit(in PushHeader header);

    /// <summary>Validates and aggregates one pushed gradient sum (length <c>Info.Length</c>).</summary>
    PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum);

    HeartbeatReply Heartbeat(HeartbeatRequest request);

    StatusReply Status();
}
