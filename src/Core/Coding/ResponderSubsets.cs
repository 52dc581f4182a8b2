namespace GpuPs.Core.Coding;

/// <summary>Responder sets of a fixed size as worker bitmasks (n ≤ 64): how many, and all of them in order.</summary>
public static class ResponderSubsets
{
    /// <summary>C(n, size), saturating at <see cref="long.MaxValue"/>.</summary>
    public static long Count(int workers, int size)
    {
        if (size < 0 || size > workers) return 0;
        size = Math.Min(size, workers - size);
        UInt128 count = 1;
        for (int i = 1; i <= size; i++)
        {
            // After step i, count = C(n−size+i, i), so count·(n−size+i) is divisible by i; 128 bits hold the product, and
            // these C(n−size+i, i) grow with i, so once one exceeds long.MaxValue the result does too.
            count = count * (ulong)(workers - size + i) / (ulong)i;
            if (count > long.MaxValue) return long.MaxValue;
        }
        return (long)count;
    }

    /// <summary>Every subset of <paramref name="size"/> workers, in increasing mask order.</summary>
    public static List<ulong> All(int workers, int size) => [.. Enumerate(workers, size)];

    /// <summary>Every subset of <paramref name="size"/> workers, in increasing mask order, one at a time (C(64, 4) =
    /// 635,376 masks need not be held at once).</summary>
    public static IEnumerable<ulong> Enumerate(int workers, int size)
    {
        Check(workers, size);
        return Gosper(workers, size);
    }

    private static IEnumerable<ulong> Gosper(int workers, int size)
    {
        if (size == 0)
        {
            yield return 0UL;
            yield break;
        }
        ulong end = workers == 64 ? 0 : 1UL << workers;
        // Gosper's hack: next larger integer with the same popcount.
        for (ulong m = size == 64 ? ulong.MaxValue : (1UL << size) - 1; ;)
        {
            yield return m;
            ulong low = m & (~m + 1), ripple = m + low;
            if (ripple == 0 || ripple >= end && end != 0) yield break;
            m = ripple | (((m ^ ripple) >> 2) / low);
        }
    }

    private static void Check(int workers, int size)
    {
        GradientCode.Validate(workers, 0);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, workers);
    }
}
