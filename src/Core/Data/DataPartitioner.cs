namespace GpuPs.Core.Data;

/// <summary>
/// Splits the rows of a (shuffled) training set into contiguous ranges, one per worker. Contiguous ranges let
/// each worker upload its rows as one block and let partial gradients of the ranges add up to the full one.
/// </summary>
public static class DataPartitioner
{
    /// <summary>
    /// <paramref name="parts"/> contiguous ranges covering [0, <paramref name="rows"/>) exactly once, in order,
    /// whose sizes differ by at most one row.
    /// </summary>
    /// <exception cref="ArgumentException">parts ≤ 0 or parts > rows.</exception>
    public static RowRange[] Partition(int rows, int parts)
    {
        if (parts <= 0) throw new ArgumentException($"need at least one partition (got {parts})", nameof(parts));
        return Partition(rows, Enumerable.Repeat(1.0, parts).ToArray());
    }

    /// <summary>
    /// One contiguous range per weight, covering [0, <paramref name="rows"/>) exactly once, in order, with part i
    /// holding about <c>rows · weights[i] / Σ weights</c> rows (off by less than one row) and at least one row:
    /// faster workers get proportionally more data.
    /// </summary>
    /// <exception cref="ArgumentException">No weights, a weight that is not finite and positive, or more parts than rows.</exception>
    public static RowRange[] Partition(int rows, IReadOnlyList<double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        int parts = weights.Count;
        if (parts == 0) throw new ArgumentException("need at least one partition (got no weights)", nameof(weights));
        for (int i = 0; i < parts; i++)
        {
            if (!double.IsFinite(weights[i]) || weights[i] <= 0)
                throw new ArgumentException($"partition weights must be finite and > 0 (weight {i} is {weights[i]})", nameof(weights));
        }
        if (rows < parts) throw new ArgumentException($"cannot split {rows} rows into {parts} partitions of at least one row each", nameof(rows));

        int[] counts = Apportion(rows, weights);
        // A tiny weight can round down to nothing; such a part takes one row from the largest part, which
        // has at least two rows because rows >= parts.
        for (int i = 0; i < parts; i++)
        {
            if (counts[i] > 0) continue;
            int largest = 0;
            for (int k = 1; k < parts; k++) if (counts[k] > counts[largest]) largest = k;
            counts[largest]--;
            counts[i] = 1;
        }

        var ranges = new RowRange[parts];
        for (int i = 0, start = 0; i < parts; start += counts[i], i++) ranges[i] = new RowRange(start, counts[i]);
        return ranges;
    }

    /// <summary>
    /// Splits <paramref name="total"/> into integer counts proportional to non-negative
    /// <paramref name="weights"/>, summing exactly to the total, each within one of its exact share; a zero
    /// weight gets zero. Part i gets floor(total·W_{i+1}/W) − floor(total·W_i/W) for prefix sums W_i, which
    /// needs no tie-breaking and so is the same on every machine.
    /// </summary>
    internal static int[] Apportion(int total, IReadOnlyList<double> weights)
    {
        // Summed in the same order as the prefix below, so the prefix reaches exactly the sum and the parts
        // after the last positive weight get nothing.
        double sum = 0;
        foreach (double w in weights) sum += w;
        var counts = new int[weights.Count];
        double prefix = 0;
        int previousBoundary = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            prefix += weights[i];
            int boundary = prefix >= sum ? total : (int)Math.Min(total, Math.Floor(total * prefix / sum));
            counts[i] = boundary - previousBoundary;
            previousBoundary = boundary;
        }
        return counts;
    }
}
