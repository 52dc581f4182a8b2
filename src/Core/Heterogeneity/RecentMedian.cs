namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// The median of the last <see cref="Window"/> values added: one odd value among them moves it not at all, a change
/// that lasts moves it once it fills half the window. Not thread-safe.
/// </summary>
/// <param name="window">Values kept, ≥ 1.</param>
public sealed class RecentMedian(int window)
{
    private readonly Queue<double> _values = new();

    /// <summary>Values kept.</summary>
    public int Window { get; } = window >= 1 ? window : throw new ArgumentOutOfRangeException(nameof(window), window, "the window holds at least one value");

    /// <summary>Values held (at most <see cref="Window"/>).</summary>
    public int Count => _values.Count;

    /// <summary>The median of the values held; 0 when none is.</summary>
    public double Value
    {
        get
        {
            if (_values.Count == 0) return 0;
            var sorted = _values.Order().ToArray();
            int m = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
        }
    }

    /// <summary>The values' sample standard deviation (n − 1) over their mean (0 for fewer than two values or a mean of 0).</summary>
    public double RelativeSpread
    {
        get
        {
            if (_values.Count < 2) return 0;
            double mean = _values.Average();
            return mean == 0 ? 0 : Math.Sqrt(_values.Sum(v => (v - mean) * (v - mean)) / (_values.Count - 1)) / Math.Abs(mean);
        }
    }

    /// <summary>The newest <paramref name="count"/> values held (all of them when fewer), oldest first.</summary>
    public double[] Newest(int count) => _values.Skip(Math.Max(0, _values.Count - count)).ToArray();

    /// <summary>Adds <paramref name="value"/>, dropping the oldest beyond the window.</summary>
    public void Add(double value)
    {
        _values.Enqueue(value);
        if (_values.Count > Window) _values.Dequeue();
    }

    /// <summary>Forgets every value.</summary>
    public void Clear() => _values.Clear();
}
