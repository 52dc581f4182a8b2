using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>
/// Every (code, n, s) the coding tests sweep: n ≤ 12 with every s &lt; n (fractional where (s+1) | n), and the larger
/// clusters n = 16, 20, 24, 32 with s ≤ 4 as "auto" picks them.
/// </summary>
internal static class CodeCatalog
{
    public const int MaxWorkers = 12;

    public static IEnumerable<object[]> All() =>
        from n in Enumerable.Range(1, MaxWorkers)
        from s in Enumerable.Range(0, n)
        from name in new[] { "cyclic", "fractional" }
        where name == "cyclic" || n % (s + 1) == 0
        select new object[] { name, n, s };

    /// <summary>n = 16, 20, 24, 32 and s = 1…4, with "auto" (fractional where (s+1) | n) and "cyclic".</summary>
    public static IEnumerable<object[]> Large() =>
        from n in new[] { 16, 20, 24, 32 }
        from s in Enumerable.Range(1, 4)
        from name in new[] { "auto", "cyclic" }
        select new object[] { name, n, s };

    /// <summary>The code, or null when the factory refuses it: then the refusal must say what would work.</summary>
    public static IGradientCode? CreateOrRefused(string name, int n, int s)
    {
        try
        {
            return GradientCodeFactory.Create(name, n, s);
        }
        catch (ArgumentException e) when (e.Message.Contains("decodes within float32 error"))
        {
            Assert.Contains("Use ", e.Message);
            return null;
        }
    }

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
