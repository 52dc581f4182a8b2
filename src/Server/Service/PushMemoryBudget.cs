namespace GpuPs.Server;

/// <summary>
/// The bytes all push streams in flight on one server may hold together (<see cref="ServerLimits.MaxInflightPushBytes"/>).
/// A push reserves its share when its stream starts — the shard-sized buffer it is assembled in, plus one chunk being
/// received — and releases it when the stream ends, however it ends; a push that does not fit is refused before anything
/// of it is read or allocated, so many slow or stalled streams cannot exhaust the server's memory. Thread-safe and
/// lock-free.
/// </summary>
/// <remarks>
/// Usage: <c>if (!budget.TryReserve(bytes)) refuse; try { … } finally { budget.Release(bytes); }</c>.
/// </remarks>
public sealed class PushMemoryBudget
{
    private long _inUse;
    private long _peak;
    private long _refused;

    /// <summary>A budget of <paramref name="capacityBytes"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacityBytes"/> is not positive.</exception>
    public PushMemoryBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityBytes);
        Capacity = capacityBytes;
    }

    /// <summary>The bytes the pushes in flight may hold together.</summary>
    public long Capacity { get; }

    /// <summary>Bytes reserved now.</summary>
    public long InUse => Volatile.Read(ref _inUse);

    /// <summary>The most bytes ever reserved at once.</summary>
    public long Peak => Volatile.Read(ref _peak);

    /// <summary>Reservations refused because they did not fit.</summary>
    public long Refused => Volatile.Read(ref _refused);

    /// <summary>Reserves <paramref name="bytes"/> if they fit beside the reservations in flight; counts a refusal if not.</summary>
    public bool TryReserve(long bytes)
    {
        long current = Volatile.Read(ref _inUse);
        while (true)
        {
            if (bytes > Capacity - current)
            {
                Interlocked.Increment(ref _refused);
                return false;
            }
            long seen = Interlocked.CompareExchange(ref _inUse, current + bytes, current);
            if (seen == current) break;
            current = seen;
        }
        long reserved = current + bytes, peak = Volatile.Read(ref _peak);
        while (reserved > peak && Interlocked.CompareExchange(ref _peak, reserved, peak) is var seenPeak && seenPeak != peak) peak = seenPeak;
        return true;
    }

    /// <summary>Returns a reservation made by <see cref="TryReserve"/>.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _inUse, -bytes);
}
