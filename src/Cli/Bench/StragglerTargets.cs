using System.Globalization;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The straggler benchmark's verdicts, as text lines: the issue's targets (met or missed, with the numbers) and the
/// regime table of where coding or multi-message beats BSP. Targets whose runs are not in the grid are skipped, saying so.
/// Ratios are printed to 3 significant digits.
/// </summary>
public static class StragglerTargets
{
    /// <summary>Persistent stragglers the code tolerates: its mean step at most this × its own no-delay mean step.</summary>
    public const double PersistentSlowdownLimit = 1.15;

    /// <summary>Mean steps within this relative distance of their bound: every scheme under random delays, every coded
    /// cell under any delay; and BSP / coded at least (1 − this) × its model value.</summary>
    public const double BoundTolerance = 0.10;

    public static IReadOnlyList<string> Summarize(StragglerBenchmarkResult result)
    {
        var lines = new List<string> { $"target loss: {result.TargetSource}" };
        var delays = result.Runs.GroupBy(r => r.Delay).Select(g => (Spec: g.Key, g.First().Model.Model)).ToList();
        foreach (var (spec, _) in delays.Where(d => d.Model is PersistentStragglers))
            lines.AddRange(Persistent(result, spec));
        foreach (var (spec, _) in delays.Where(d => d.Model is ShiftedExponentialDelay or BimodalDelay))
            lines.AddRange(NearBound($"{spec}: {{0}} of {{1}} schemes' mean step", result.Rows.Where(r => r.Delay == spec).ToList()));
        lines.AddRange(NearBound("every delay: {0} of {1} coded cells' mean step",
            result.Rows.Where(r => IsCoded(r.Scheme) && r.Delay != "none").ToList()));
        lines.AddRange(RegimeTable(result, delays.Select(d => d.Spec).ToList()));
        return lines;
    }

    /// <summary>
    /// Every coded run whose code tolerates the persistent stragglers — its bound (first decodable set) is its no-delay
    /// bound, so the slow workers are never waited for; e.g. fractional s = 1 with the slow workers in distinct groups —
    /// must stay within <see cref="PersistentSlowdownLimit"/> of its no-delay mean, and BSP / it must reach
    /// (1 − <see cref="BoundTolerance"/>) × the model value BSP bound / its bound (factor / (s + 1) for the relative
    /// form, when compute and overhead are negligible against the unit). Runs that must wait for a slow worker are left
    /// to the bound check.
    /// </summary>
    private static IEnumerable<string> Persistent(StragglerBenchmarkResult result, string delay)
    {
        var bsp = result.Find(StragglerScheme.Bsp, 0, delay);
        var tolerated = result.Runs.Where(r => r.Delay == delay && IsCoded(r.Scheme.Name) && Tolerates(r, result.Options)).ToList();
        if (tolerated.Count == 0)
            yield return $"[skip] {delay}: no coded run tolerates these stragglers";
        foreach (var run in tolerated)
        {
            var label = run.Scheme.Label(run.S);
            var coded = result.Find(run.Scheme, run.S, delay)!;
            if (result.Find(run.Scheme, run.S, "none") is not { } calm)
            {
                yield return $"[skip] {delay}: {label} has no run without delays";
                continue;
            }
            double slowdown = coded.MeanMs / calm.MeanMs;
            yield return Verdict(slowdown <= PersistentSlowdownLimit, string.Create(CultureInfo.InvariantCulture,
                $"{delay}: {label} mean step {coded.MeanMs:F1} ms = {slowdown:G3}× its no-delay {calm.MeanMs:F1} ms (target ≤ {PersistentSlowdownLimit:G3}×)"));
            if (bsp is null) continue;
            double speedup = bsp.MeanMs / coded.MeanMs, model = bsp.BoundMs / coded.BoundMs;
            yield return Verdict(speedup >= (1 - BoundTolerance) * model, string.Create(CultureInfo.InvariantCulture,
                $"{delay}: bsp / {label} = {bsp.MeanMs:F1} / {coded.MeanMs:F1} ms = {speedup:G3}× (model value {model:G3}×, target ≥ {1 - BoundTolerance:G2} of it)"));
        }
    }

    /// <summary>True when <paramref name="run"/>'s bound under its delay equals its bound without delays.</summary>
    private static bool Tolerates(StragglerRun run, StragglerBenchmarkOptions o)
    {
        var calm = StragglerInjector.Parse(StragglerBenchmark.WithUnit("none", o.UnitSeconds), o.Workers, o.Seed);
        double with = StepTimeBound.Expected(run.Scheme, o.Workers, run.S, run.Model, run.ComputePerPartition).Seconds;
        double without = StepTimeBound.Expected(run.Scheme, o.Workers, run.S, calm, run.ComputePerPartition).Seconds;
        return with <= without * (1 + 1e-9);
    }

    /// <summary>A verdict on <paramref name="rows"/> (<paramref name="title"/> gets the counts met and in all), then one
    /// line per miss.</summary>
    private static IEnumerable<string> NearBound(string title, List<StragglerRunRow> rows)
    {
        if (rows.Count == 0) yield break;
        var misses = rows.Where(r => Math.Abs(r.Ratio - 1) > BoundTolerance).ToList();
        yield return Verdict(misses.Count == 0, string.Format(CultureInfo.InvariantCulture, title, rows.Count - misses.Count, rows.Count)
                                                + $" within ±{BoundTolerance:P0} of the bound");
        foreach (var r in misses)
        {
            // Two standard errors of the mean and of the bound, relative to the bound: a miss inside it is sampling noise
            // of ~30 steps.
            double noise = 2 * Math.Sqrt(r.SemMs * r.SemMs + r.BoundSemMs * r.BoundSemMs) / r.BoundMs;
            yield return string.Create(CultureInfo.InvariantCulture,
                $"       {StragglerScheme.Parse(r.Scheme).Label(r.S)} {r.Delay}: {r.MeanMs:F1} ms vs bound {r.BoundMs:F1} ms ({r.BoundMethod}) = {r.Ratio:G3}× (±{noise:G2} at 2 s.e.); "
                + $"vs the model on this run's own draws {r.DrawsMs:F1} ms = {r.DrawsRatio:G3}×");
        }
    }

    private static bool IsCoded(string scheme) => scheme is "coded-cyclic" or "coded-fractional";

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
                return (row is null ? "-" : (bsp.MeanMs / row.MeanMs).ToString("G3", CultureInfo.InvariantCulture)).PadLeft(9);
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
