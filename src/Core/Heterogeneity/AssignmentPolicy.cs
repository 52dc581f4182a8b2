namespace GpuPs.Core.Heterogeneity;

/// <summary>How a job shares its data among workers (<c>--assignment</c>).</summary>
public enum AssignmentPolicy
{
    /// <summary>Every worker gets the same share: the job's code over equal partitions.</summary>
    Uniform,

    /// <summary>
    /// Shares in proportion to the workers' measured speeds, computed and versioned by the coordinator (shard 0) and
    /// rebalanced when a speed drifts: partitions sized by speed (BSP, backup) or the heterogeneity-aware code (coded).
    /// </summary>
    Proportional,

    /// <summary>
    /// As <see cref="Proportional"/>, but every live worker keeps rows, however little its share shortens the step: no
    /// <see cref="ZeroShares"/> (the comparison <c>bench hetero</c> measures them against).
    /// </summary>
    ProportionalAll,
}

/// <summary>The names users type for <see cref="AssignmentPolicy"/>.</summary>
public static class AssignmentPolicies
{
    /// <summary>"uniform", "proportional" or "proportional-all".</summary>
    public static string Name(AssignmentPolicy policy) => policy switch
    {
        AssignmentPolicy.Proportional => "proportional",
        AssignmentPolicy.ProportionalAll => "proportional-all",
        _ => "uniform",
    };

    /// <summary>Shares follow measured speeds (<see cref="AssignmentPolicy.Proportional"/> or <see cref="AssignmentPolicy.ProportionalAll"/>).</summary>
    public static bool BySpeed(this AssignmentPolicy policy) => policy != AssignmentPolicy.Uniform;

    /// <summary>Reads "uniform", "proportional" or "proportional-all" (case-insensitive; empty: uniform).</summary>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static AssignmentPolicy Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "" or "uniform" => AssignmentPolicy.Uniform,
        "proportional" => AssignmentPolicy.Proportional,
        "proportional-all" => AssignmentPolicy.ProportionalAll,
        _ => throw new ArgumentException($"assignment must be uniform, proportional or proportional-all (got '{name}')"),
    };
}
