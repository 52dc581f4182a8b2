using GpuPs.Protocol;

namespace GpuPs.Core.Modes;

/// <summary>The registry of consistency modes: the only place that maps a <see cref="SyncMode"/> to its rules.</summary>
public static class SyncModes
{
    /// <summary>Every mode, in the order the CLI lists them.</summary>
    public static IReadOnlyList<ISyncMode> All { get; } =
        [new BspMode(), new AspMode(), new SspMode(), new CodedMode(), new MultiMessageMode(), new BackupMode()];

    /// <summary>The rules of <paramref name="mode"/>.</summary>
    /// <exception cref="ArgumentException">An unspecified or unknown mode.</exception>
    public static ISyncMode Of(SyncMode mode) =>
        All.FirstOrDefault(m => m.Mode == mode)
        ?? throw new ArgumentException($"sync mode must be {string.Join(", ", All.Select(m => m.Name))} (got {mode})");

    /// <summary>The mode a user named (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No mode has that name; the message lists the names.</exception>
    public static ISyncMode Parse(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown sync mode '{name}': use {string.Join(", ", All.Select(m => m.Name))}");
}
