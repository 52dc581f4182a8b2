namespace GpuPs.Server.Observers;

/// <summary>A copy of a shard's parameters at one step.</summary>
/// <param name="Step">The shard's step after the update the copy follows.</param>
/// <param name="Parameters">The shard's parameters then (owned by the reader).</param>
/// <param name="Timestamp">When the copy was made (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</param>
public readonly record struct ParameterSnapshot(long Step, float[] Parameters, long Timestamp);

/// <summary>
/// Copies of a shard's parameters at every <c>every</c>-th step, so that a driver evaluates the model at exact steps
/// (<c>gpups train</c>'s evaluation per epoch) while training goes on: a pull after the step would see a later model
/// whenever the workers are faster than the driver (the README's digits job runs 12 steps an epoch at under a
/// millisecond a step, and the driver's 100 ms status poll saw two of its 20 epochs). Bounded: at most
/// <c>maxBytes</c> of copies wait for the reader; when it falls behind, the oldest copy is dropped and counted
/// (<see cref="Dropped"/>), never the shard's step delayed.
/// </summary>
/// <remarks>
/// Register it with the shard (<see cref="ParameterShard.Create"/>'s observers); the copy is taken under the shard's
/// lock, once every <c>every</c> steps (a memcpy of the shard: 2.6 kB for the digits softmax, 16 MB for a
/// 4M-parameter model). Thread-safe.
/// </remarks>
public sealed class ParameterSnapshots : IShardObserver
{
    private readonly long _every;
    private readonly long _maxBytes;
    private readonly Queue<ParameterSnapshot> _waiting = new();
    private long _waitingBytes;
    private long _dropped;

    /// <param name="every">Steps between copies (the shard's steps: updates, one per push in ASP and SSP), at least 1.</param>
    /// <param name="maxBytes">Most bytes of copies waiting for the reader (the newest copy is always kept).</param>
    public ParameterSnapshots(long every, long maxBytes = 64L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        (_every, _maxBytes) = (every, maxBytes);
    }

    /// <summary>Copies dropped because the reader fell more than the byte bound behind.</summary>
    public long Dropped
    {
        get { lock (_waiting) return _dropped; }
    }

    /// <inheritdoc />
    public void OnParameters(long step, ReadOnlySpan<float> parameters)
    {
        if (step <= 0 || step % _every != 0) return;
        var copy = new ParameterSnapshot(step, parameters.ToArray(), System.Diagnostics.Stopwatch.GetTimestamp());
        lock (_waiting)
        {
            // Make room: the oldest copies go first, and the newest is always kept.
            while (_waiting.Count > 0 && _waitingBytes + Bytes(copy) > _maxBytes)
            {
                _waitingBytes -= Bytes(_waiting.Dequeue());
                _dropped++;
            }
            _waiting.Enqueue(copy);
            _waitingBytes += Bytes(copy);
        }
    }

    /// <summary>Takes the oldest waiting copy, if any; the caller owns it.</summary>
    public bool TryTake(out ParameterSnapshot snapshot)
    {
        lock (_waiting)
        {
            if (!_waiting.TryDequeue(out snapshot)) return false;
            _waitingBytes -= Bytes(snapshot);
            return true;
        }
    }

    /// <summary>The step of the oldest waiting copy, if any (not taken).</summary>
    public bool TryPeekStep(out long step)
    {
        lock (_waiting)
        {
            bool any = _waiting.TryPeek(out var oldest);
            step = any ? oldest.Step : 0;
            return any;
        }
    }

    private static long Bytes(ParameterSnapshot snapshot) => (long)snapshot.Parameters.Length * sizeof(float);
}
