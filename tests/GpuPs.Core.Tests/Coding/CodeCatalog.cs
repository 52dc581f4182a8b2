using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>Every (code, n, s) the coding tests sweep: n ≤ 12, every s &lt; n, fractional where (s+1) | n.</summary>
internal static class CodeCatalog
{
    public const int MaxWorkers = 12;

    public static IEnumerable<object[]> All() =>
        from n in Enumerable.Range(1, MaxWorkers)
        from s in Enumerable.Range(0, n)
        from name in new[] { "cyclic", "fractional" }
        where name == "cyclic" || n % (s + 1) == 0
        select new object[] { name, n, s };

    /// <summary>Codes with a well-conditioned construction: fractional, and cyclic-MDS (n + s odd or s = 0).</summary>
    public static IEnumerable<object[]> WellConditioned() => All().Where(c => !IsRandomCyclic(c));

    /// <summary>Cyclic codes built by the random seed search (n + s even, s &gt; 0).</summary>
    public static IEnumerable<object[]> RandomCyclic() => All().Where(IsRandomCyclic);

    private static bool IsRandomCyclic(object[] c) =>
        (string)c[0] == "cyclic" && (int)c[2] > 0 && ((int)c[1] + (int)c[2]) % 2 == 0;

    public static int[] Workers(ulong mask) =>
        Enumerable.Range(0, 64).Where(i => (mask >> i & 1) != 0).ToArray();

    public static double[,] Rows(IGradientCode code, IReadOnlyList<int> workers, bool appendOnes = false)
    {
        var rows = new double[workers.Count + (appendOnes ? 1 : 0), code.Partitions];
        for (int r = 0; r < workers.Count; r++)
        for (int j = 0; j < code.Partitions; j++)
            rows[r, j] = code[workers[r], j];
        if (appendOnes)
            for (int j = 0; j < code.Partitions; j++) rows[workers.Count, j] = 1;
        return rows;
    }
}
