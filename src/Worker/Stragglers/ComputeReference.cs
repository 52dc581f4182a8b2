namespace GpuPs.Worker.Stragglers;

/// <summary>
/// One worker's typical real gradient compute per partition, the reference of the relative <c>persistent</c> model:
/// the median per-partition compute of its last <see cref="Window"/> measured steps, its first step left out.
/// <para>
/// Why not the previous step: one step slowed by JIT compilation or pre-emption made the next step's delay as many times
/// too long (the straggler benchmark measured BSP p99 2.7 s where 0.5 s was meant). The first step always carries
/// compilation, so it is never used; a median ignores up to 15 outliers among 31 steps, and a window rather than the
/// whole run follows the tiered JIT's re-compilation of the kernel after its first 30 calls.
/// </para>
/// Zero until a second step has been measured. One instance per worker loop; not thread-safe.
/// </summary>
public sealed class ComputeReference
{
    /// <summary>Steps the median is taken over (odd, so the median is one measured value).</summary>
    public const int Window = 31;

    private readonly Queue<double> _recent = new(Window);
    private readonly double[] _sorted = new double[Window];   // every step, every worker: sorted in place, not allocated
    private bool _sawFirst;

    /// <summary>The median per-partition compute in the window; zero before any step after the first.</summary>
    public TimeSpan PerPartition { get; private set; }

    /// <summary>Adds one finished step that computed <paramref name="load"/> partitions in <paramref name="computeOfStep"/>.</summary>
    public void Record(TimeSpan computeOfStep, int load)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(computeOfStep, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(load, 1);
        if (!_sawFirst)
        {
            _sawFirst = true;
            return;
        }
        if (_recent.Count == Window)
            _recent.Dequeue();
        _recent.Enqueue(computeOfStep.TotalSeconds / load);
        _recent.CopyTo(_sorted, 0);
        var sorted = _sorted.AsSpan(0, _recent.Count);
        sorted.Sort();
        // Even counts (before the window fills) take the lower middle: a measured value, never an average with an outlier.
        PerPartition = TimeSpan.FromSeconds(sorted[(sorted.Length - 1) / 2]);
    }
}
