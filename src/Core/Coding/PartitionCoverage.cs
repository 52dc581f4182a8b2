namespace GpuPs.Core.Coding;

/// <summary>
/// The first test of every "is this set enough to close the step" rule: which of a code's k ≤ 64 partitions a set of
/// responders (coded pushes) or of per-partition messages (multi-message pushes) covers, as bitmasks. Multi-message
/// closes on complete coverage alone (each message is one plain partition gradient); a coded set must also pass the
/// decoder's span and accuracy tests (<see cref="GradientDecoder"/>), which it reaches only when covered.
/// </summary>
public sealed class PartitionCoverage
{
    private readonly ulong[] _heldBy;   // bit j: worker i holds partition j
    private readonly ulong _all;

    /// <summary>Coverage for <paramref name="code"/>'s assignment (k ≤ 64 partitions).</summary>
    public PartitionCoverage(IGradientCode code)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code.Partitions, 64);
        _heldBy = new ulong[code.Workers];
        for (int i = 0; i < code.Workers; i++)
            foreach (int j in code.PartitionsOf(i)) _heldBy[i] |= 1UL << j;
        _all = code.Partitions == 64 ? ulong.MaxValue : (1UL << code.Partitions) - 1;
    }

    /// <summary>Partitions held by the workers in <paramref name="responders"/> (bit i: worker i).</summary>
    public ulong Of(ulong responders)
    {
        ulong covered = 0;
        for (ulong rest = responders; rest != 0; rest &= rest - 1)
            covered |= _heldBy[System.Numerics.BitOperations.TrailingZeroCount(rest)];
        return covered;
    }

    /// <summary>True when <paramref name="covered"/> has every partition.</summary>
    public bool IsComplete(ulong covered) => covered == _all;

    /// <summary>The partitions missing from <paramref name="covered"/>, ascending.</summary>
    public IEnumerable<int> Missing(ulong covered)
    {
        for (ulong rest = _all & ~covered; rest != 0; rest &= rest - 1)
            yield return System.Numerics.BitOperations.TrailingZeroCount(rest);
    }
}
