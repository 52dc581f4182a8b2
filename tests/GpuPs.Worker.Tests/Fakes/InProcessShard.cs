using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Tests.Fakes;

/// <summary>
/// A transport that is not one: both planes call a <see cref="IParameterShard"/> in this process, with the deadline
/// semantics of the real ones (a pull whose wait outlasts its timeout fails with <see cref="ShardErrorKind.Timeout"/>).
/// It counts calls and can make the next calls fail as if the shard were unreachable, so that tests see what the
/// worker loop and <see cref="Client.ShardedParameterClient"/> do, without a socket.
/// </summary>
public sealed class InProcessShard(IParameterShard shard) : ITensorChannel, IShardControl
{
    private int _failNext;
    private int _pulls, _pushes, _heartbeats;

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(10);

    public int Pulls => Volatile.Read(ref _pulls);
    public int Pushes => Volatile.Read(ref _pushes);
    public int Heartbeats => Volatile.Read(ref _heartbeats);

    /// <summary>The next <paramref name="calls"/> calls (of any kind) fail with <see cref="ShardErrorKind.Unavailable"/>.</summary>
    public void FailNext(int calls) => Volatile.Write(ref _failNext, calls);

    public ShardConnection Connect() => new($"in-process shard {shard.Info.Index}", this, this);

    public Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        MaybeFail();
        return Task.FromResult(shard.Register(request));
    }

    public async Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pulls);
        MaybeFail();
        try
        {
            await shard.WaitForStepAsync(workerId, minStep, cancellationToken).WaitAsync(timeout ?? DefaultTimeout, cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new ShardException(ShardErrorKind.Timeout, $"step {minStep} not reached within {timeout ?? DefaultTimeout}", e);
        }
        return shard.CopyParameters(destination.Span);
    }

    public Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pushes);
        MaybeFail();
        cancellationToken.ThrowIfCancellationRequested();
        var admitted = shard.Admit(header);
        return Task.FromResult(admitted.IsApplied ? shard.Push(header, gradient.Span) : admitted);
    }

    public Task<HeartbeatReply> HeartbeatAsync(int workerId, long step, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _heartbeats);
        MaybeFail();
        return Task.FromResult(shard.Heartbeat(new HeartbeatRequest { WorkerId = workerId, Step = step }));
    }

    public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => Task.FromResult(shard.Status());

    private void MaybeFail()
    {
        if (Interlocked.Decrement(ref _failNext) >= 0)
            throw new ShardException(ShardErrorKind.Unavailable, "in-process shard made unreachable by the test");
        Interlocked.Exchange(ref _failNext, 0);
    }
}
