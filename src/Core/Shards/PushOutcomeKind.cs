namespace GpuPs.Core.Shards;

/// <summary>What a shard did with one push.</summary>
public enum PushOutcomeKind
{
    /// <summary>Taken into the open step (which it may have closed).</summary>
    Applied,

    /// <summary>Its step had closed without it: a straggler's work, dropped and counted.</summary>
    Late,

    /// <summary>The worker already pushed this (step, partition); a retry of an applied push lands here.</summary>
    Duplicate,

    /// <summary>The job (or, in ASP/SSP, this worker's share of it) has run all its steps.</summary>
    Finished,

    /// <summary>Refused by the mode's rule for another reason (a step not open yet, the SSP staleness bound).</summary>
    Refused,
}
