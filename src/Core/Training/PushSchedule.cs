namespace GpuPs.Core.Training;

/// <summary>When workers push within a step (<c>--schedule</c>).</summary>
public enum PushSchedule
{
    /// <summary>Every worker pushes as soon as its gradient is ready: finishers fight for the server's link.</summary>
    Simultaneous,

    /// <summary>
    /// Round-robin synchronization (R2SP, Chen et al. 2019): pushes go by turns, not by clock — every shard lets at most
    /// <see cref="TrainingJob.PushConcurrency"/> pushes hold a turn on its link at a time, in the order the coordinator
    /// (shard 0) plans from the workers' measured compute and transfer times.
    /// </summary>
    RoundRobin,
}

/// <summary>How users name a <see cref="PushSchedule"/>.</summary>
public static class PushSchedules
{
    /// <summary>The name of a schedule as users write it: simultaneous or round-robin.</summary>
    public static string Name(PushSchedule schedule) => schedule == PushSchedule.RoundRobin ? "round-robin" : "simultaneous";

    /// <summary>The schedule a user named (empty: simultaneous).</summary>
    /// <exception cref="ArgumentException">Neither simultaneous nor round-robin.</exception>
    public static PushSchedule Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "" or "simultaneous" => PushSchedule.Simultaneous,
        "round-robin" or "roundrobin" or "r2sp" => PushSchedule.RoundRobin,
        _ => throw new ArgumentException($"unknown schedule '{name}': use simultaneous or round-robin"),
    };
}
