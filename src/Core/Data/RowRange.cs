namespace GpuPs.Core.Data;

/// <summary>The rows [<see cref="Start"/>, <see cref="End"/>) of a data set, e.g. one worker's partition.</summary>
public readonly record struct RowRange(int Start, int Count)
{
    /// <summary>One past the last row, <c>Start + Count</c>.</summary>
    public int End => Start + Count;
}
