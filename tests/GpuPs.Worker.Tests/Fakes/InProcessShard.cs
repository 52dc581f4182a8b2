using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Tests.Fakes;

/// <summary>
/// A transport that is not one: both planes call a <see cref="IParameterShard"/> in this process, with the deadline
/// semantics of the real ones (a pull whose wait outlasts its timeout fails with <see cref="ShardErrorKind.Timeout"/>).
/// It counts calls, can make the next calls fail as if the shard were unreachable, and can freeze (every call waits
/// until its deadline, like a SIGSTOPped server), so that tests see what the worker loop and
/// <see cref="Client.ShardedParameterClient"/> do, without a socket.
/// </summary>
public sealed class InProcessShard(IParameterShard shard) : ITensorChannel, IShardControl
{
    private int _failNext;
    private volatile bool _frozen;
    private int _loseReplyOfWorker = -1;
    private int _pulls, _pushes, _heartbeats;

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(10);

    public int Pulls => Volatile.Read(ref _pulls);
    public int Pushes => Volatile.Read(ref _pushes);
    public int Heartbeats => Volatile.Read(ref _heartbeats);

    /// <summary>The next <paramref name="calls"/> calls (of any kind) fail with <see cref="ShardErrorKind.Unavailable"/>.</summary>
    public void FailNext(int calls) => Volatile.Write(ref _failNext, calls);

    /// <summary>
    /// The next push of worker <paramref name="workerId"/> is applied, but its reply is lost: the call fails as if the shard
    /// became unreachable after applying it, so the client retries a push the shard already has.
    /// </summary>
    public void LoseNextReplyOf(int workerId) => Volatile.Write(ref _loseReplyOfWorker, workerId);

    /// <summary>From now on every call hangs until its deadline (then <see cref="ShardErrorKind.Timeout"/>) or cancellation.</summary>
    public void Freeze() => _frozen = true;

    public ShardConnection Connect() => new($"in-process shard {shard.Info.Index}", this, this);

    public async Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        await Answer(timeout, cancellationToken);
        return shard.Register(request);
    }

    public async Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _pulls);
        await Answer(timeout, cancellationToken);
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

    public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32)
    {
        Interlocked.Increment(ref _pushes);
        await Answer(timeout, cancellationToken);
        var admitted = shard.Admit(header);
        var outcome = admitted.IsApplied ? shard.Push(header, gradient.Span) : admitted;
        if (outcome.IsApplied && Interlocked.CompareExchange(ref _loseReplyOfWorker, -1, header.WorkerId) == header.WorkerId)
            throw new ShardException(ShardErrorKind.Unavailable, "in-process shard: the reply of an applied push was lost");
        return outcome;
    }

    public async Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        Interlocked.Increment(ref _heartbeats);
        await Answer(timeout, cancellationToken);
        return shard.Heartbeat(request);
    }

    public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => Task.FromResult(shard.Status());

    /// <summary>What every call meets first: cancellation, a frozen shard (the deadline passes), or an injected failure.</summary>
    private async Task Answer(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_frozen)
        {
            await Task.Delay(timeout ?? DefaultTimeout, cancellationToken);
            throw new ShardException(ShardErrorKind.Timeout, "frozen in-process shard: deadline passed");
        }
        MaybeFail();
    }

    private void MaybeFail()
    {
        if (Interlocked.Decrement(ref _failNext) >= 0)
            throw new ShardException(ShardErrorKind.Unavailable, "in-process shard made unreachable by the test");
        Interlocked.Exchange(ref _failNext, 0);
    }
}
