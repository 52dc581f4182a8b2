namespace GpuPs.Core.Coding;

/// <summary>
/// The uncoded baseline: worker i holds partition i with coefficient 1 (B = I, s = 0), so every worker
/// must respond. BSP and backup workers use it; dropping late workers is the server's policy, not
/// a property of this code.
/// </summary>
public sealed class UncodedAssignment : GradientCode
{
    /// <exception cref="ArgumentOutOfRangeException">n outside 1..64.</exception>
    public UncodedAssignment(int workers)
        : base("uncoded", "identity", 0, Identity(workers))
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
