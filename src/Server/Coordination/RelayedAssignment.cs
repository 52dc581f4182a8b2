using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Server.Coordination;

/// <summary>
/// The assignment a shard other than 0 decodes with in a coded proportional job on several shards, or waits by in a BSP
/// one with zero shares (it waits for no push of a worker at a zero share). Only the coordinator (shard 0) measures
/// speeds and publishes versions; every worker relays the version it computes a step with to the other shards before it
/// pushes that step (<c>relayed_assignment</c> on a heartbeat), so the first push encoded with a
/// version reaches a shard after that version did, and a shard restarted from a checkpoint learns the version in force
/// from the next relay. The code is the pure function of the speeds both sides apply
/// (<see cref="Core.Modes.ISyncMode.Assignment(TrainingJob, IReadOnlyList{double})"/>), so this shard decodes with
/// exactly the coordinator's code. Called under the shard's lock; not thread-safe on its own.
/// </summary>
/// <remarks>
/// A worker computes step t with the version it received after pulling step t from every shard, i.e. after shard 0
/// closed step t − 1 and published; so every push of step t on this shard is encoded with that version, and the switch
/// never drops a push encoded with the new one.
/// </remarks>
public sealed class RelayedAssignment(TrainingJob job, ILogger log)
{
    /// <summary>The version in force here (null until the first relay).</summary>
    public WorkAssignment? Current { get; private set; }

    /// <summary>
    /// Takes the version worker <paramref name="worker"/> relayed: returns its code when it is newer than
    /// <see cref="Current"/> (decode with it from the open step <paramref name="openStep"/> on), null when it is the version
    /// in force or an older one (a late worker's).
    /// </summary>
    /// <exception cref="ShardException">Invalid: not one finite speed &gt; 0 per worker, or the version in force with other speeds
    /// (two coordinators, or a worker that altered it); nothing changes.</exception>
    public IGradientCode? Adopt(int worker, Assignment relayed, long openStep)
    {
        WorkAssignment assignment;
        try { assignment = AssignmentWire.FromWire(relayed, job.Workers); }
        catch (ArgumentException e) { throw ShardException.Invalid($"worker {worker} relayed an invalid assignment: {e.Message}"); }
        if (Current is { } current && assignment.Version <= current.Version)
        {
            if (assignment.Version == current.Version && !(assignment.Speeds.SequenceEqual(current.Speeds) && assignment.Idle.SequenceEqual(current.Idle)))
                throw ShardException.Invalid($"worker {worker} relayed assignment version {assignment.Version} with speeds [{string.Join(", ", assignment.Speeds)}] "
                    + $"and zero shares [{string.Join(", ", assignment.Idle)}], but this shard holds that version with [{string.Join(", ", current.Speeds)}] and [{string.Join(", ", current.Idle)}]");
            return null;
        }
        IGradientCode code;
        try { code = job.Mode.Assignment(job, assignment.Shares()); }
        catch (ArgumentException e) { throw ShardException.Invalid($"worker {worker} relayed an assignment this job cannot hold: {e.Message}"); }
        Current = assignment;
        log.Information("Assignment version {Version} relayed by worker {WorkerId}: decoding with {Construction} from step {Step}",
            assignment.Version, worker, code.Construction, openStep);
        return code;
    }
}
