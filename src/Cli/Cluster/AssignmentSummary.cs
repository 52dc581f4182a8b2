namespace GpuPs.Cli.Cluster;

/// <summary>
/// The proportional assignment in force at the end of a run, as shard 0's coordinator reports it (<c>gpups status</c>):
/// the speeds, in rows per second, that the workers' shares of the rows follow.
/// </summary>
/// <param name="Version">1, then one more per rebalance.</param>
/// <param name="FromStep">The first step computed with it.</param>
/// <param name="Speeds">Per worker id, the clamped speed its share is proportional to.</param>
public sealed record AssignmentSummary(long Version, long FromStep, IReadOnlyList<double> Speeds)
{
    /// <summary>Workers at a zero share (proportional BSP): no rows.</summary>
    public IReadOnlyList<int> Idle { get; init; } = [];

    /// <summary>The versions' first steps, oldest first (the newest 256: <c>AssignmentCoordinator.KeptFromSteps</c>); empty when shard 0 did not say.</summary>
    public IReadOnlyList<long> FromSteps { get; init; } = [];

    /// <summary>Per worker id, its share of the rows (the speeds normalised to sum to 1; 0 at a zero share).</summary>
    public IReadOnlyList<double> Shares
    {
        get
        {
            var weights = Speeds.Select((s, i) => Idle.Contains(i) ? 0 : s).ToArray();
            double total = weights.Sum();
            return [.. weights.Select(s => s / total)];
        }
    }

    /// <summary>What shard 0 reported; null when it published none (a uniform job, or no speed reported yet).</summary>
    internal static AssignmentSummary? Of(Protocol.StatusReply shard0) =>
        shard0.Assignment is { Version: > 0 } a ? new(a.Version, a.FromStep, [.. a.Speeds]) { Idle = [.. a.IdleWorkers], FromSteps = [.. shard0.AssignmentFromSteps] } : null;
}
