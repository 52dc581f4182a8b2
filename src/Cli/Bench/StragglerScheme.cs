using GpuPs.Protocol;

namespace GpuPs.Cli.Bench;

/// <summary>
/// One aggregation scheme the straggler benchmark compares: how a training run is configured for it, how many partitions
/// a worker computes per step (its load), how many workers a step waits for, and for which s it is meaningful.
/// </summary>
/// <param name="Name">The benchmark's name for it (<c>--schemes</c>, CSV, plots).</param>
/// <param name="Mode">The training mode that implements it.</param>
/// <param name="Code">Gradient code of the coded and multi-message modes; ignored by the others.</param>
public sealed record StragglerScheme(string Name, SyncMode Mode, string Code)
{
    public static StragglerScheme Bsp { get; } = new("bsp", SyncMode.Bsp, "uncoded");
    public static StragglerScheme Backup { get; } = new("backup", SyncMode.Backup, "uncoded");
    public static StragglerScheme CodedFractional { get; } = new("coded-fractional", SyncMode.Coded, "fractional");
    public static StragglerScheme CodedCyclic { get; } = new("coded-cyclic", SyncMode.Coded, "cyclic");
    /// <summary>Multi-message on the cyclic assignment: overlapping windows let any replica of a partition cover it,
    /// whereas fractional groups would make a whole group wait for the same partitions.</summary>
    public static StragglerScheme MultiMessage { get; } = new("multi-message", SyncMode.MultiMessage, "cyclic");
    public static StragglerScheme Ssp { get; } = new("ssp", SyncMode.Ssp, "uncoded");
    public static StragglerScheme Asp { get; } = new("asp", SyncMode.Asp, "uncoded");

    /// <summary>Every scheme, in the order of the benchmark's tables and plots.</summary>
    public static IReadOnlyList<StragglerScheme> All { get; } = [Bsp, Backup, CodedFractional, CodedCyclic, MultiMessage, Ssp, Asp];

    /// <summary>The scheme called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such scheme; the message lists them.</exception>
    public static StragglerScheme Parse(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown scheme \"{name.Trim()}\"; expected one of {string.Join(", ", All.Select(s => s.Name))}");

    /// <summary>BSP, SSP and ASP do not tolerate stragglers by design: s does not change them, so they run once, at s = 0,
    /// whatever the list of s.</summary>
    public bool IgnoresStragglers => Mode is SyncMode.Bsp or SyncMode.Ssp or SyncMode.Asp;

    /// <summary>ASP and SSP apply every push as it comes: the shard counts one update per push, n per step.</summary>
    public bool IsAsynchronous => Mode is SyncMode.Ssp or SyncMode.Asp;

    /// <summary>Partitions a worker computes per step: s + 1 for the coded and multi-message schemes, else 1.</summary>
    public int Load(int s) => Mode is SyncMode.Coded or SyncMode.MultiMessage ? s + 1 : 1;

    /// <summary>Workers a step waits for: n − s for backup and coded, n for BSP (and, as the partitions to cover, for
    /// multi-message; as the workers that must finish their steps, for ASP/SSP).</summary>
    public int Waits(int n, int s) => Mode is SyncMode.Backup or SyncMode.Coded ? n - s : n;

    /// <summary>How tables and plots name a run of this scheme at <paramref name="s"/>.</summary>
    public string Label(int s) => IgnoresStragglers ? Name : $"{Name} s={s}";

    /// <summary>Null when a scheme that tolerates stragglers runs at (n, s), else why not.</summary>
    public string? Skip(int n, int s)
    {
        if (s == 0)
            return $"s = 0 is plain BSP ({(Mode == SyncMode.Backup ? "no backup workers" : "the uncoded assignment")})";
        if (s >= n)
            return $"s = {s} leaves no worker of {n}";
        if (Code == "fractional" && n % (s + 1) != 0)
            return $"fractional repetition needs (s+1) | n, and {s + 1} does not divide {n}";
        return null;
    }
}
