using System.Globalization;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The straggler benchmark's verdicts, as text lines: the issue's targets (met or missed, with the numbers) and the
/// regime table of where coding or multi-message beats BSP. Targets whose runs are not in the grid are skipped, saying so.
/// </summary>
public static class StragglerTargets
{
    /// <summary>Persistent stragglers: a coded scheme's mean step at most this × its own no-delay mean step.</summary>
    public const double PersistentSlowdownLimit = 1.15;

    /// <summary>Persistent stragglers: BSP's mean step at least this × the coded scheme's.</summary>
    public const double BspOverCodedMinimum = 5;

    /// <summary>Random delays: every scheme's mean step within this relative distance of its bound.</summary>
    public const double BoundTolerance = 0.10;

    public static IReadOnlyList<string> Summarize(StragglerBenchmarkResult result)
    {
        var lines = new List<string> { $"target loss: {result.TargetSource}" };
        var delays = result.Runs.GroupBy(r => r.Delay).Select(g => (Spec: g.Key, g.First().Model.Model)).ToList();
        foreach (var (spec, _) in delays.Where(d => d.Model is PersistentStragglers))
            lines.AddRange(Persistent(result, spec));
        foreach (var (spec, _) in delays.Where(d => d.Model is ShiftedExponentialDelay or BimodalDelay))
            lines.AddRange(NearBound(result, spec));
        lines.AddRange(RegimeTable(result, delays.Select(d => d.Spec).ToList()));
        return lines;
    }

    private static IEnumerable<string> Persistent(StragglerBenchmarkResult result, string delay)
    {
        var bsp = result.Find(StragglerScheme.Bsp, 0, delay);
        foreach (var scheme in new[] { StragglerScheme.CodedCyclic, StragglerScheme.CodedFractional })
        {
            if (result.FeaturedS(scheme) is not int s || result.Find(scheme, s, delay) is not { } coded || result.Find(scheme, s, "none") is not { } calm)
            {
                yield return $"[skip] {delay}: {scheme.Name} has no run with and without delays";
                continue;
            }
            string moved = s == result.Options.FeaturedStragglers ? "" : $" (s = {result.Options.FeaturedStragglers} not run for it)";
            double slowdown = coded.MeanMs / calm.MeanMs;
            yield return Verdict(slowdown <= PersistentSlowdownLimit,
                $"{delay}: {scheme.Name} s={s}{moved} mean step {coded.MeanMs:F1} ms = {slowdown:F2}× its no-delay {calm.MeanMs:F1} ms (target ≤ {PersistentSlowdownLimit:F2}×)");
            if (bsp is null) continue;
            double speedup = bsp.MeanMs / coded.MeanMs;
            // The time model caps the ratio: BSP waits factor × (unit + c), coded (s + 1) × (unit + c).
            double ceiling = bsp.BoundMs / coded.BoundMs;
            yield return Verdict(speedup >= BspOverCodedMinimum,
                $"{delay}: bsp {bsp.MeanMs:F1} ms = {speedup:F2}× {scheme.Name} s={s} (target ≥ {BspOverCodedMinimum:F0}×; the time model's ratio of bounds is {ceiling:F2}×)");
        }
    }

    private static IEnumerable<string> NearBound(StragglerBenchmarkResult result, string delay)
    {
        var rows = result.Rows.Where(r => r.Delay == delay).ToList();
        var misses = rows.Where(r => Math.Abs(r.Ratio - 1) > BoundTolerance).ToList();
        yield return Verdict(misses.Count == 0,
            $"{delay}: {rows.Count - misses.Count} of {rows.Count} schemes' mean step within ±{BoundTolerance:P0} of the bound");
        foreach (var r in misses)
        {
            // Two standard errors of the mean, relative to the bound: a miss inside it is sampling noise of ~30 steps.
            double noise = 2 * r.SemMs / r.BoundMs;
            yield return string.Create(CultureInfo.InvariantCulture,
                $"       {StragglerScheme.Parse(r.Scheme).Label(r.S)}: {r.MeanMs:F1} ms vs bound {r.BoundMs:F1} ms ({r.BoundMethod}) = {r.Ratio:F2}× (±{noise:F2} at 2 s.e.); "
                + $"vs the model on this run's own draws {r.DrawsMs:F1} ms = {r.DrawsRatio:F2}×");
        }
    }

    private static IEnumerable<string> RegimeTable(StragglerBenchmarkResult result, List<string> delays)
    {
        var contenders = result.Rows.Where(r => r.Scheme is "coded-cyclic" or "coded-fractional" or "multi-message")
            .Select(r => (r.Scheme, r.S)).Distinct().ToList();
        if (contenders.Count == 0 || !result.Rows.Any(r => r.Scheme == StragglerScheme.Bsp.Name))
        {
            yield return "[skip] regime table: needs BSP and coded or multi-message runs";
            yield break;
        }
        yield return "regime: BSP mean step / scheme mean step (> 1: the scheme beats BSP)";
        yield return $"  {"delay",-40} " + string.Join(" ", contenders.Select(c => $"{Short(c.Scheme)} s={c.S}".PadLeft(9)));
        foreach (var delay in delays)
        {
            if (result.Find(StragglerScheme.Bsp, 0, delay) is not { } bsp) continue;
            var cells = contenders.Select(c =>
            {
                var row = result.Rows.FirstOrDefault(r => r.Scheme == c.Scheme && r.S == c.S && r.Delay == delay);
                return (row is null ? "-" : (bsp.MeanMs / row.MeanMs).ToString("F2", CultureInfo.InvariantCulture)).PadLeft(9);
            });
            yield return $"  {delay,-40} " + string.Join(" ", cells);
        }
    }

    private static string Short(string scheme) => scheme switch
    {
        "coded-cyclic" => "cyc",
        "coded-fractional" => "frac",
        "multi-message" => "mm",
        _ => scheme,
    };

    private static string Verdict(bool met, string text) => $"[{(met ? "met" : "MISSED")}] {text}";
}
