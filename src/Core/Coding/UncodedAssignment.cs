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

    /// <summary>
    /// One partition per worker of speed &gt; 0, sized in proportion to its speed (already clamped:
    /// <see cref="Heterogeneity.WorkerSpeeds"/>), in worker order; a worker of speed 0 has a zero share
    /// (<see cref="Heterogeneity.ZeroShares"/>): its row of B is empty, it holds and pushes nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64.</exception>
    /// <exception cref="ArgumentException">A speed is not finite and ≥ 0, or none is &gt; 0.</exception>
    public UncodedAssignment(IReadOnlyList<double> speeds)
        : base("uncoded", Describe(speeds), 0, Identity(speeds), speeds.Where(v => v > 0).ToArray())
    {
    }

    private static double[,] Identity(int n) => Identity(Enumerable.Repeat(1.0, n).ToArray());

    private static double[,] Identity(IReadOnlyList<double> speeds)
    {
        Validate(speeds.Count, 0);
        if (speeds.Any(v => !double.IsFinite(v) || v < 0) || !speeds.Any(v => v > 0))
            throw new ArgumentException($"speeds must be finite and >= 0, at least one > 0 (got {SpeedList.Format(speeds)})", nameof(speeds));
        var b = new double[speeds.Count, speeds.Count(v => v > 0)];
        for (int i = 0, j = 0; i < speeds.Count; i++)
            if (speeds[i] > 0) b[i, j++] = 1;
        return b;
    }

    private static string Describe(IReadOnlyList<double> speeds) =>
        $"identity, partitions in proportion to speeds {SpeedList.Format(speeds)}"
        + (speeds.Any(v => v == 0) ? $", zero shares for workers {string.Join(",", Enumerable.Range(0, speeds.Count).Where(i => speeds[i] == 0))}" : "");
}
