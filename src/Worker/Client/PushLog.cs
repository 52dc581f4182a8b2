using GpuPs.Protocol;

namespace GpuPs.Worker.Client;

/// <summary>
/// A worker's pushes of its last few steps, kept so that a shard restarted alone from an older checkpoint can be brought
/// up to its siblings' step: the worker pushes the logged slices of the steps that shard lost again, in order, and the
/// shard redoes those updates exactly as they were (the same gradients, computed from the same parameters), while the
/// other shards, which never lost them, are not touched. Without it such a shard could never catch up: the gradients of
/// the steps it lost need parameters the other shards have moved past.
/// </summary>
/// <remarks>
/// Keeps every push of the newest <c>steps</c> steps (each a copy of the whole gradient); it must reach back further than
/// the servers' <c>--checkpoint-every</c> (whose writer may lag) for a restarted shard to catch up. Thread-safe: pushes and a replay may run
/// concurrently, and a replay's entries stay valid after they leave the log.
/// </remarks>
public sealed class PushLog(int steps)
{
    private readonly object _gate = new();
    private readonly List<Entry> _entries = [];
    private long _newest = long.MinValue / 2;   // the newest step logged

    /// <summary>One logged push: its header (shard 0's; each shard gets its own index), the whole gradient and its wire encoding.</summary>
    public sealed record Entry(PushHeader Header, float[] Gradient, TensorEncoding Encoding);

    /// <summary>How many of the newest steps are kept; 0: none (the log is off).</summary>
    public int Steps { get; } = steps >= 0 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), steps, "the push log keeps 0 or more steps");

    /// <summary>Logs a copy of <paramref name="gradient"/> pushed with <paramref name="header"/>, forgetting steps more than <see cref="Steps"/> older.</summary>
    public void Record(in PushHeader header, ReadOnlySpan<float> gradient, TensorEncoding encoding)
    {
        if (Steps == 0) return;
        var entry = new Entry(header, gradient.ToArray(), encoding);
        lock (_gate)
        {
            _newest = Math.Max(_newest, header.Step);
            long oldest = _newest - Steps + 1;
            _entries.RemoveAll(e => e.Header.Step < oldest);
            _entries.Add(entry);
        }
    }

    /// <summary>
    /// The pushes of steps <paramref name="from"/> up to (not including) <paramref name="to"/>, in the order they were
    /// made; null when the log no longer reaches back to <paramref name="from"/> (or is off). Steps this worker never
    /// pushed (a coded or backup step that closed without it) are simply absent: the workers that did push them replay them.
    /// </summary>
    public IReadOnlyList<Entry>? Between(long from, long to)
    {
        lock (_gate)
        {
            if (Steps == 0 || from < _newest - Steps + 1) return null;
            return _entries.Where(e => e.Header.Step >= from && e.Header.Step < to).ToList();
        }
    }
}
