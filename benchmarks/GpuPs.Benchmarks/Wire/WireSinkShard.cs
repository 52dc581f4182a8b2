using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The wire benchmark's shard: it takes any push without aggregating and serves a fixed buffer, so that a gRPC push or
/// pull measures the transport alone.
/// </summary>
internal sealed class WireSinkShard(int length) : IParameterShard
{
    private readonly float[] _parameters = new float[length];
    private long _step;

    public ShardInfo Info { get; } = new() { Index = 0, Count = 1, Offset = 0, Length = length };

    public RegisterReply Register(RegisterRequest request) => new() { WorkerId = 0, Shard = Info, Step = Step };

    public Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken) => Task.CompletedTask;

    public PullResult CopyParameters(Span<float> destination)
    {
        _parameters.CopyTo(destination);
        return new PullResult(Step, 0, 0, length, false);
    }

    public PushOutcome Admit(in PushHeader header) => PushOutcome.Applied(Step, closedStep: false, jobFinished: false);

    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum) =>
        PushOutcome.Applied(Interlocked.Increment(ref _step), closedStep: true, jobFinished: false);

    public HeartbeatReply Heartbeat(HeartbeatRequest request) => new() { Step = Step };

    public StatusReply Status() => new() { Step = Step, Shard = Info };

    private long Step => Interlocked.Read(ref _step);
}
