using System.Diagnostics;

namespace GpuPs.Worker.Client;

/// <summary>
/// How long one push waited for its round-robin turns (<see cref="ShardedParameterClient.PushAsync"/>): the longest wait
/// of any of its shards, a shard's waits summed over its pieces. Each push has its own, so pushes in flight together
/// (one per partition) never count each other's waits. Thread-safe.
/// </summary>
public sealed class TurnWait
{
    private long _ticks;

    /// <summary>Seconds waited so far.</summary>
    public double Seconds => (double)Interlocked.Read(ref _ticks) / Stopwatch.Frequency;

    /// <summary>Adds a push's waits, per shard in <see cref="Stopwatch"/> ticks: the longest counts.</summary>
    internal void Add(long[] waited) => Interlocked.Add(ref _ticks, waited.Length == 0 ? 0 : waited.Max());
}
