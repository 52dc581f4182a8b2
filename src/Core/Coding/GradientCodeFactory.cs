namespace GpuPs.Core.Coding;

/// <summary>Builds gradient codes by name, for configuration and the CLI.</summary>
public static class GradientCodeFactory
{
    /// <summary>Accepted names, case-insensitive.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fractional", "cyclic", "uncoded", "auto"];

    /// <summary>
    /// "fractional" → <see cref="FractionalRepetitionCode"/> (needs (s+1) | n); "cyclic" →
    /// <see cref="CyclicRepetitionCode"/>; "uncoded" → <see cref="UncodedAssignment"/> (needs s = 0);
    /// "auto" → fractional when (s+1) | n (perfectly conditioned, 0/1 weights), else cyclic.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, n outside 1..64, s outside 0..n−1, s+1 not
    /// dividing n for "fractional", or s ≠ 0 for "uncoded" (messages say which).</exception>
    public static IGradientCode Create(string name, int workers, int stragglers)
    {
        ArgumentNullException.ThrowIfNull(name);
        GradientCode.Validate(workers, stragglers);
        return name.Trim().ToLowerInvariant() switch
        {
            "fractional" => new FractionalRepetitionCode(workers, stragglers),
            "cyclic" => new CyclicRepetitionCode(workers, stragglers),
            "uncoded" when stragglers != 0 => throw new ArgumentException(
                $"The uncoded assignment tolerates no stragglers (got s = {stragglers}); use a coded scheme or s = 0.",
                nameof(stragglers)),
            "uncoded" => new UncodedAssignment(workers),
            "auto" when workers % (stragglers + 1) == 0 => new FractionalRepetitionCode(workers, stragglers),
            "auto" => new CyclicRepetitionCode(workers, stragglers),
            _ => throw new ArgumentException(
                $"Unknown gradient code '{name}'; expected one of: {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
