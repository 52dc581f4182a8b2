namespace GpuPs.Core.Coding;

/// <summary>Builds gradient codes by name, for configuration and the CLI.</summary>
public static class GradientCodeFactory
{
    /// <summary>Accepted names, case-insensitive.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fractional", "cyclic", "uncoded", "auto", "hetero", OptimalHeterogeneousCode.FamilyName];

    /// <summary>
    /// "fractional" → <see cref="FractionalRepetitionCode"/> (needs (s+1) | n); "cyclic" →
    /// <see cref="CyclicRepetitionCode"/>; "uncoded" → <see cref="UncodedAssignment"/> (needs s = 0);
    /// "auto" → fractional when (s+1) | n (perfectly conditioned, 0/1 weights), else cyclic; "hetero" →
    /// <see cref="HeterogeneousRepetitionCode"/> for <paramref name="speeds"/> (equal speeds when null); "hetero-optimal" →
    /// <see cref="OptimalHeterogeneousCode"/> (s = 1) likewise. With speeds,
    /// "uncoded" sizes partitions in proportion to them.
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="workers">n.</param>
    /// <param name="stragglers">s.</param>
    /// <param name="speeds">Clamped per-worker speeds (<see cref="Heterogeneity.WorkerSpeeds.Clamp"/>) for "hetero",
    /// "hetero-optimal" and "uncoded"; null: equal. The other codes have equal partitions and refuse speeds.</param>
    /// <exception cref="ArgumentException">Unknown name, n outside 1..64, s outside 0..n−1, s+1 not
    /// dividing n for "fractional", s ≠ 0 for "uncoded", speeds for a code that cannot use them, or not one speed per
    /// worker (messages say which).</exception>
    public static IGradientCode Create(string name, int workers, int stragglers, IReadOnlyList<double>? speeds = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        GradientCode.Validate(workers, stragglers);
        string key = name.Trim().ToLowerInvariant();
        if (speeds is not null && speeds.Count != workers)
            throw new ArgumentException($"need one speed per worker: {speeds.Count} speeds for n = {workers}.", nameof(speeds));
        if (speeds is not null && key is not ("hetero" or OptimalHeterogeneousCode.FamilyName or "uncoded"))
            throw new ArgumentException($"the {key} code has equal partitions and takes no speeds; use hetero (coded) or uncoded (BSP).", nameof(speeds));
        return key switch
        {
            "hetero" => new HeterogeneousRepetitionCode(speeds ?? Enumerable.Repeat(1.0, workers).ToArray(), stragglers),
            OptimalHeterogeneousCode.FamilyName => new OptimalHeterogeneousCode(speeds ?? Enumerable.Repeat(1.0, workers).ToArray(), stragglers),
            "uncoded" when stragglers == 0 && speeds is not null => new UncodedAssignment(speeds),
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
