namespace GpuPs.Core.Coding;

/// <summary>
/// Fractional repetition code (Tandon et al. 2017, §3): requires (s+1) | n. Workers form n/(s+1)
/// groups of s+1; every worker of group g holds partitions g(s+1) … g(s+1)+s with coefficient 1 and
/// sends their plain sum. Decoding takes one responder per group with weight 1 (others 0), so it is
/// exact up to float32 summation: condition ≤ 2.3 and worst decode error 3–5e-8 (PAPERS.md).
/// </summary>
public sealed class FractionalRepetitionCode : GradientCode
{
    /// <exception cref="ArgumentException">n, s out of range, or s+1 does not divide n.</exception>
    public FractionalRepetitionCode(int workers, int stragglers)
        : base("fractional", $"groups of {stragglers + 1} replicas", stragglers,
               Build(workers, stragglers))
    {
    }

    private static double[,] Build(int n, int s)
    {
        Validate(n, s);
        if (n % (s + 1) != 0)
            throw new ArgumentException(
                $"Fractional repetition needs (s+1) | n, but s+1 = {s + 1} does not divide n = {n}; use the cyclic code.",
                nameof(s));
        var b = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            int first = i / (s + 1) * (s + 1);
            for (int j = first; j <= first + s; j++) b[i, j] = 1;
        }
        return b;
    }
}
