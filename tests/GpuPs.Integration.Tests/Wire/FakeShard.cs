using System.Collections.Concurrent;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// A shard that records pushes and serves fixed parameters; <see cref="Refusal"/> makes every call throw it, and
/// <see cref="PushAnswer"/> is how it answers every push's first chunk.
/// </summary>
internal sealed class FakeShard(int index, int length = FakeShard.DefaultLength) : IParameterShard
{
    /// <summary>Parameters of a shard unless a test says otherwise: odd, and not a whole number of chunks.</summary>
    public const int DefaultLength = 100_003;

    public float[] Parameters { get; } = RandomFloats(new Random(index), length);
    public ConcurrentQueue<(PushHeader Header, float[] Gradient)> Pushes { get; } = new();
    public long PullStep { get; init; }
    public bool Finished { get; init; }
    public bool NeverReady { get; init; }
    public ShardException? Refusal { get; init; }
    public PushOutcome PushAnswer { get; init; } = PushOutcome.Applied(0, closedStep: false, jobFinished: false);
    private int _calls;

    public (int WorkerId, long MinStep)? LastWait { get; private set; }

    /// <summary>Calls that reached the shard, of any kind.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public static long OffsetOf(int index) => 1000L * index;

    public ShardInfo Info { get; } = new() { Index = index, Count = 3, Offset = OffsetOf(index), Length = length };

    public RegisterReply Register(RegisterRequest request)
    {
        Refuse();
        return new RegisterReply { WorkerId = 0, Shard = Info };
    }

    public Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        LastWait = (workerId, minStep);
        return NeverReady ? Task.Delay(Timeout.Infinite, cancellationToken) : Task.CompletedTask;
    }

    public PullResult CopyParameters(Span<float> destination)
    {
        Refuse();
        Parameters.CopyTo(destination);
        return new PullResult(PullStep, index, Info.Offset, length, Finished);
    }

    public PushOutcome Admit(in PushHeader header)
    {
        Interlocked.Increment(ref _calls);
        return PushAnswer;
    }

    public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        Refuse();
        Pushes.Enqueue((header, gradientSum.ToArray()));
        return PushOutcome.Applied(header.Step + 1, closedStep: true, jobFinished: false);
    }

    public HeartbeatReply Heartbeat(HeartbeatRequest request)
    {
        Refuse();
        return new HeartbeatReply { Step = request.Step };
    }

    public StatusReply Status()
    {
        Refuse();
        return new StatusReply { Shard = Info };
    }

    private void Refuse()
    {
        Interlocked.Increment(ref _calls);
        if (Refusal is not null) throw Refusal;
    }
}
