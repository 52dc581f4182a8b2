namespace GpuPs.Core.Coding;

/// <summary>
/// The uncoded baseline: worker i holds partition i with coefficient 1 (B = I, s = 0), so every worker
/// must respond. BSP and backup workers use it; dropping late workers is the server's policy, not
/// a property of this code. Partitions are equal (uniform assignment) or sized in proportion to the workers' speeds
/// (proportional assignment), so that every worker finishes its step at about the same time; either way the sum of the
/// pushes is the gradient of every row once.
/// </summary>
public sealed class UncodedAssignment : GradientCode
{
    /// <summary>Equal partitions, one per worker.</summary>
    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64.</exception>
    public UncodedAssignment(int workers)
        : base("uncoded", "identity", 0, Identity(workers))
    {
    }

    /// <summary>Partition i sized in proportion to <paramref name="speeds"/>[i] (already clamped: <see cref="Heterogeneity.WorkerSpeeds"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64.</exception>
    /// <exception cref="ArgumentException">A speed is not finite and positive.</exception>
    public UncodedAssignment(IReadOnlyList<double> speeds)
        : base("uncoded", $"identity, partitions in proportion to speeds {SpeedList.Format(speeds)}", 0, Identity(speeds.Count), speeds)
    {
    }

    private static double[,] Identity(int n)
    {
        Validate(n, 0);
        var b = new double[n, n];
        for (int i = 0; i < n; i++) b[i, i] = 1;
        return b;
    }
}
