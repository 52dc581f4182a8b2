using GpuPs.Core.Modes;
using GpuPs.Protocol;

namespace GpuPs.Cli.Bench;

/// <summary>
/// One aggregation scheme the straggler benchmark compares: the mode and code a training run uses for it, and the model of
/// its step time the bound is computed with. What a step waits for and how many partitions a worker computes are the
/// mode's own facts (<see cref="ISyncMode"/>).
/// </summary>
/// <param name="Name">The benchmark's name for it (<c>--schemes</c>, CSV, plots).</param>
/// <param name="Mode">The consistency mode that implements it.</param>
/// <param name="Code">Gradient code of the coded and multi-message modes; ignored by the others.</param>
/// <param name="Bound">How <see cref="StepTimeBound"/> models its step.</param>
public sealed record StragglerScheme(string Name, ISyncMode Mode, string Code, StepBoundModel Bound)
{
    public static StragglerScheme Bsp { get; } = new("bsp", SyncModes.Of(SyncMode.Bsp), "uncoded", StepBoundModel.FastestK);
    public static StragglerScheme Backup { get; } = new("backup", SyncModes.Of(SyncMode.Backup), "uncoded", StepBoundModel.FastestK);
    public static StragglerScheme CodedFractional { get; } = new("coded-fractional", SyncModes.Of(SyncMode.Coded), "fractional", StepBoundModel.FirstDecodable);
    public static StragglerScheme CodedCyclic { get; } = new("coded-cyclic", SyncModes.Of(SyncMode.Coded), "cyclic", StepBoundModel.FirstDecodable);
    /// <summary>Multi-message on the cyclic assignment: overlapping windows let any replica of a partition cover it,
    /// whereas fractional groups would make a whole group wait for the same partitions.</summary>
    public static StragglerScheme MultiMessage { get; } = new("multi-message", SyncModes.Of(SyncMode.MultiMessage), "cyclic", StepBoundModel.Coverage);
    public static StragglerScheme Ssp { get; } = new("ssp", SyncModes.Of(SyncMode.Ssp), "uncoded", StepBoundModel.SlowestWorker);
    public static StragglerScheme Asp { get; } = new("asp", SyncModes.Of(SyncMode.Asp), "uncoded", StepBoundModel.SlowestWorker);

    /// <summary>Every scheme, in the order of the benchmark's tables and plots.</summary>
    public static IReadOnlyList<StragglerScheme> All { get; } = [Bsp, Backup, CodedFractional, CodedCyclic, MultiMessage, Ssp, Asp];

    /// <summary>The scheme called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such scheme; the message lists them.</exception>
    public static StragglerScheme Parse(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown scheme \"{name.Trim()}\"; expected one of {string.Join(", ", All.Select(s => s.Name))}");

    /// <summary>BSP, SSP and ASP do not tolerate stragglers by design: s does not change them, so they run once, at s = 0,
    /// whatever the list of s.</summary>
    public bool IgnoresStragglers => !Mode.ToleratesStragglers;

    /// <summary>ASP and SSP apply every push as it comes: the shard counts one update per push, n per step.</summary>
    public bool IsAsynchronous => !Mode.IsStepSynchronous;

    /// <summary>The scheme replicates data partitions (coded, multi-message): the contenders of the regime plot.</summary>
    public bool Replicates => Mode.PartitionsPerWorker(1) > 1;

    /// <summary>Partitions a worker computes per step.</summary>
    public int Load(int s) => Mode.PartitionsPerWorker(s);

    /// <summary>Workers a step waits for at worst (as the partitions to cover, for multi-message; as the workers that must
    /// finish their steps, for ASP/SSP).</summary>
    public int Waits(int n, int s) => Mode.WorstCaseResponders(n, s);

    /// <summary>How tables and plots name a run of this scheme at <paramref name="s"/>.</summary>
    public string Label(int s) => IgnoresStragglers ? Name : $"{Name} s={s}";

    /// <summary>Null when a scheme that tolerates stragglers runs at (n, s), else why not.</summary>
    public string? Skip(int n, int s)
    {
        if (s == 0)
            return $"s = 0 is plain BSP ({(Code == "uncoded" ? "no backup workers" : "the uncoded assignment")})";
        if (s >= n)
            return $"s = {s} leaves no worker of {n}";
        if (Code == "fractional" && n % (s + 1) != 0)
            return $"fractional repetition needs (s+1) | n, and {s + 1} does not divide {n}";
        return null;
    }
}
