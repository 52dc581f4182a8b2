using GpuPs.Core.Coding;

namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// How much data a reassignment moves: the share of the rows each worker must newly load, summed over workers, from
/// the partitions' fractional extents. Both assignments lay partitions out contiguously in the same row order, so a
/// change of speeds only slides boundaries: the rows moved are exactly the ones between a worker's old and new
/// boundaries (bounded by Σ_i |old boundary − new boundary|, never the whole data set for a small drift).
/// </summary>
public static class DataMovement
{
    /// <summary>Σ_i |after_i \ before_i| / rows: 0 for the same assignment, at most the replication factor s + 1.</summary>
    /// <exception cref="ArgumentException">The codes are for different numbers of workers.</exception>
    public static double Fraction(IGradientCode before, IGradientCode after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Workers != after.Workers)
            throw new ArgumentException($"assignments for {before.Workers} and {after.Workers} workers cannot be compared");
        var (b, a) = (Extents(before), Extents(after));
        double moved = 0;
        for (int i = 0; i < before.Workers; i++)
            moved += a[i].Sum(x => x.End - x.Start) - Overlap(a[i], b[i]);
        return moved;
    }

    /// <summary>Per worker, the [start, end) fractions of the data its partitions cover.</summary>
    private static List<(double Start, double End)>[] Extents(IGradientCode code)
    {
        double total = code.PartitionWeights.Sum();
        var start = new double[code.Partitions + 1];
        for (int j = 0; j < code.Partitions; j++) start[j + 1] = start[j] + code.PartitionWeights[j] / total;
        return Enumerable.Range(0, code.Workers)
            .Select(i => code.PartitionsOf(i).Select(j => (start[j], start[j + 1])).ToList())
            .ToArray();
    }

    private static double Overlap(List<(double Start, double End)> x, List<(double Start, double End)> y) =>
        x.Sum(p => y.Sum(q => Math.Max(0, Math.Min(p.End, q.End) - Math.Max(p.Start, q.Start))));
}
