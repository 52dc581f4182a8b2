using GpuPs.Core.Heterogeneity;

namespace GpuPs.Protocol;

/// <summary>A <see cref="WorkAssignment"/> as the proto <see cref="Assignment"/> the coordinator sends, and back.</summary>
public static class AssignmentWire
{
    /// <summary>The assignment on the wire.</summary>
    public static Assignment ToWire(WorkAssignment assignment)
    {
        var wire = new Assignment { Version = assignment.Version, FromStep = assignment.FromStep, MovedFraction = assignment.MovedFraction };
        wire.Speeds.AddRange(assignment.Speeds);
        return wire;
    }

    /// <summary>The assignment a coordinator sent, checked against the job's worker count.</summary>
    /// <exception cref="ArgumentException">Not one finite speed &gt; 0 per worker, or a version below 1.</exception>
    public static WorkAssignment FromWire(Assignment wire, int workers)
    {
        if (wire.Version < 1) throw new ArgumentException($"assignment version must be at least 1 (got {wire.Version})");
        if (wire.Speeds.Count != workers || wire.Speeds.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException($"assignment version {wire.Version} must carry {workers} finite speeds > 0 (got [{string.Join(", ", wire.Speeds)}])");
        return new WorkAssignment(wire.Version, wire.FromStep, wire.Speeds.ToArray(), wire.MovedFraction);
    }
}
