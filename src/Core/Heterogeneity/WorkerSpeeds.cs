using Serilog;

namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// Turns the throughputs workers report (rows per second) into speeds an assignment may divide by. A report that is
/// zero, negative, NaN, infinite or above <see cref="MaxSpeed"/> says nothing about the worker and is replaced by the
/// median of the believable ones; every speed is then clamped into [median / <see cref="MaxRatio"/>,
/// median · <see cref="MaxRatio"/>], so one absurd report can neither take all the data nor starve another worker of
/// it. Every replacement and clamp is logged with the worker id. Pure and thread-safe.
/// </summary>
public static class WorkerSpeeds
{
    /// <summary>
    /// Largest speed ratio to the median kept: 1000× covers a data-centre GPU beside CPU workers. Measured on an H100
    /// with three CPU SIMD workers, the 1M-parameter MLP: 2.8 ms against 2,600 ms for the same 8,000 rows, ~940×, and
    /// ~2,000× by the workers' own reports (docs/benchmarks.md, "The CUDA path on an H100"); at the earlier 100× the GPU
    /// got 97% of the rows and each CPU worker 1%, which still took it 90 ms a step against the GPU's 5 (at 1000×: 10 ms
    /// against 5). A worker at 1/1000 of the median still gets ≥ 0.1% of a typical share.
    /// </summary>
    public const double MaxRatio = 1000;

    /// <summary>Rows per second no device reaches on any model here (10¹²); a report above it is a bug or a lie.</summary>
    public const double MaxSpeed = 1e12;

    /// <summary>
    /// The speeds to assign by: one per worker, each finite and &gt; 0, within <see cref="MaxRatio"/> of the median of
    /// the believable reports (all 1 when none is believable).
    /// </summary>
    /// <param name="reported">Rows per second per worker, as measured; any value.</param>
    /// <param name="log">Receives one warning per replaced or clamped speed (worker id, reported, used, why).</param>
    /// <exception cref="ArgumentException">No speeds.</exception>
    public static double[] Clamp(IReadOnlyList<double> reported, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(reported);
        ArgumentNullException.ThrowIfNull(log);
        if (reported.Count == 0) throw new ArgumentException("an assignment needs at least one worker's speed", nameof(reported));
        var believable = reported.Where(IsBelievable).Order().ToArray();
        double median = believable.Length == 0 ? 1
            : believable.Length % 2 == 1 ? believable[believable.Length / 2]
            : (believable[believable.Length / 2 - 1] + believable[believable.Length / 2]) / 2;
        double low = median / MaxRatio, high = median * MaxRatio;
        var speeds = new double[reported.Count];
        for (int i = 0; i < speeds.Length; i++)
        {
            double r = reported[i];
            (speeds[i], string? why) = !IsBelievable(r) ? (median, "not a finite throughput in (0, 1e12] rows/s; the median is assumed")
                : r < low ? (low, $"more than {MaxRatio}× below the median")
                : r > high ? (high, $"more than {MaxRatio}× above the median")
                : (r, null);
            if (why is not null)
                log.Warning("Worker {WorkerId} reported speed {Reported} rows/s: {Reason}; assigning by {Speed:G4} rows/s",
                    i, r, why, speeds[i]);
        }
        return speeds;
    }

    private static bool IsBelievable(double speed) => double.IsFinite(speed) && speed > 0 && speed <= MaxSpeed;
}
