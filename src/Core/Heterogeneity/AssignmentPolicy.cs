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
}

/// <summary>The names users type for <see cref="AssignmentPolicy"/>.</summary>
public static class AssignmentPolicies
{
    /// <summary>"uniform" or "proportional".</summary>
    public static string Name(AssignmentPolicy policy) => policy == AssignmentPolicy.Proportional ? "proportional" : "uniform";

    /// <summary>Reads "uniform" or "proportional" (case-insensitive; empty: uniform).</summary>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static AssignmentPolicy Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "" or "uniform" => AssignmentPolicy.Uniform,
        "proportional" => AssignmentPolicy.Proportional,
        _ => throw new ArgumentException($"assignment must be uniform or proportional (got '{name}')"),
    };
}
