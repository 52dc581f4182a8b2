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
        wire.IdleWorkers.AddRange(assignment.Idle);
        return wire;
    }

    /// <summary>The assignment a coordinator sent, checked against the job's worker count.</summary>
    /// <exception cref="ArgumentException">Not one finite speed &gt; 0 per worker, a version below 1, or idle workers that
    /// are not ascending distinct ids of the job's workers or leave none with rows.</exception>
    public static WorkAssignment FromWire(Assignment wire, int workers)
    {
        if (wire.Version < 1) throw new ArgumentException($"assignment version must be at least 1 (got {wire.Version})");
        if (wire.Speeds.Count != workers || wire.Speeds.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException($"assignment version {wire.Version} must carry {workers} finite speeds > 0 (got [{string.Join(", ", wire.Speeds)}])");
        var idle = wire.IdleWorkers;
        if (idle.Count >= workers || idle.Any(i => i < 0 || i >= workers) || idle.Zip(idle.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"assignment version {wire.Version}: idle workers must be ascending distinct ids below {workers}, leaving one with rows (got [{string.Join(", ", idle)}])");
        return new WorkAssignment(wire.Version, wire.FromStep, wire.Speeds.ToArray(), wire.MovedFraction) { Idle = idle.ToArray() };
    }
}
