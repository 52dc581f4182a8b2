namespace GpuPs.Core.Modes;

/// <summary>
/// What a node aggregator may do with the pushes of one node's workers before sending them upstream, so that the shard
/// still computes exactly what it computes from the workers' own pushes (<see cref="ISyncMode.Combining"/>).
/// </summary>
public enum PushCombining
{
    /// <summary>Nothing: each push is its own update or message (ASP, SSP, multi-message). Hierarchical aggregation is refused.</summary>
    None,
    /// <summary>Sum them: the shard sums plain gradient sums anyway (BSP, backup), so a node's sum counts as each of its workers' pushes.</summary>
    Sum,
    /// <summary>
    /// Coded: workers whose rows of B are equal (a repetition group of the fractional code) push the same vector, so one of
    /// them stands for all; vectors of different rows cannot be combined before the decode and are forwarded one by one.
    /// </summary>
    EqualCodeRows,
}
