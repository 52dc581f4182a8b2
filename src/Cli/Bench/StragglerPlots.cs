using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The straggler benchmark's PNG plots (ScottPlot 5):
/// <list type="number">
/// <item><c>stragglers-steps-DELAY.png</c>, one per delay model: the step-time distribution of every run as a box
/// (quartiles, median, whiskers at min and max after warm-up) with the run's bound as a red diamond;</item>
/// <item><c>stragglers-loss-DELAY.png</c>, for each persistent model and the heaviest shifted-exponential one: training
/// loss per step against wall time since step 0 closed, one line per scheme at its featured s;</item>
/// <item><c>stragglers-regime.png</c>: BSP mean step / scheme mean step for every coded and multi-message run, grouped by
/// delay model; above 1 the scheme beats BSP.</item>
/// </list>
/// Text needs a font; where none renders, ScottPlot still draws and saves the data.
/// </summary>
public static class StragglerPlots
{
    /// <summary>Writes every plot into <paramref name="directory"/> and returns the paths written.</summary>
    public static IReadOnlyList<string> Write(StragglerBenchmarkResult result, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var delay in result.Rows.Select(r => r.Delay).Distinct())
            written.Add(StepDistribution(result, delay, Path.Combine(directory, $"stragglers-steps-{Slug(delay)}.png")));
        foreach (var delay in LossCurveDelays(result))
            written.Add(LossCurves(result, delay, Path.Combine(directory, $"stragglers-loss-{Slug(delay)}.png")));
        if (Regime(result, Path.Combine(directory, "stragglers-regime.png")) is string regime)
            written.Add(regime);
        return written;
    }

    private static string StepDistribution(StragglerBenchmarkResult result, string delay, string path)
    {
        var runs = result.Runs.Where(r => r.Delay == delay).ToList();
        var plot = new ScottPlot.Plot();
        var boxes = new List<ScottPlot.Box>();
        double top = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            var t = runs[i].Steps.SortedTimes(result.Options.WarmupSteps).Select(x => x * 1e3).ToArray();
            boxes.Add(new ScottPlot.Box
            {
                Position = i,
                WhiskerMin = t[0],
                BoxMin = StepSeries.Quantile(t, 0.25),
                BoxMiddle = StepSeries.Quantile(t, 0.5),
                BoxMax = StepSeries.Quantile(t, 0.75),
                WhiskerMax = t[^1],
            });
            top = Math.Max(top, t[^1]);
        }
        plot.Add.Boxes(boxes);
        var bounds = runs.Select(r => result.Find(r.Scheme, r.S, delay)!.BoundMs).ToArray();
        var marks = plot.Add.ScatterPoints(Enumerable.Range(0, runs.Count).Select(i => (double)i).ToArray(), bounds);
        marks.MarkerShape = ScottPlot.MarkerShape.FilledDiamond;
        marks.MarkerSize = 9;
        marks.Color = ScottPlot.Colors.Red;
        marks.LegendText = "bound";
        LabelRuns(plot, runs);
        plot.Title($"step time per scheme, {delay} (n = {result.Options.Workers})");
        plot.YLabel("step time (ms)");
        plot.Axes.SetLimitsY(0, Math.Max(bounds.Max(), top) * 1.05);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, Math.Max(800, 70 * runs.Count), 560);
        return path;
    }

    /// <summary>The persistent models and the shifted-exponential one with the heaviest tail (smallest rate).</summary>
    private static IEnumerable<string> LossCurveDelays(StragglerBenchmarkResult result)
    {
        var byDelay = result.Runs.GroupBy(r => r.Delay).Select(g => g.First()).ToList();
        var persistent = byDelay.Where(r => r.Model.Model is PersistentStragglers).Select(r => r.Delay);
        var heaviest = byDelay.Where(r => r.Model.Model is ShiftedExponentialDelay)
            .OrderBy(r => ((ShiftedExponentialDelay)r.Model.Model).Rate).Select(r => r.Delay).Take(1);
        return persistent.Concat(heaviest);
    }

    private static string LossCurves(StragglerBenchmarkResult result, string delay, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var scheme in result.Options.Schemes)
        {
            var run = result.FeaturedS(scheme) is int s ? result.Runs.FirstOrDefault(r => r.Scheme == scheme && r.S == s && r.Delay == delay) : null;
            if (run is null) continue;
            // Time runs from the close of step 0, which includes cluster start-up (as in the time-to-target column).
            var elapsed = new double[run.Steps.Seconds.Count];
            for (int i = 1; i < elapsed.Length; i++) elapsed[i] = elapsed[i - 1] + run.Steps.Seconds[i];
            var line = plot.Add.Scatter(elapsed, run.Steps.Loss.ToArray());
            line.LegendText = run.Scheme.Label(run.S);
            line.MarkerSize = 3;
        }
        if (!double.IsNaN(result.TargetLoss))
        {
            var target = plot.Add.HorizontalLine(result.TargetLoss);
            target.LinePattern = ScottPlot.LinePattern.Dashed;
            target.LegendText = "target loss";
        }
        plot.Title($"training loss vs wall time, {delay}");
        plot.XLabel("seconds since step 0 closed");
        plot.YLabel("training loss of the step's batches");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
        return path;
    }

    /// <summary>Null when the grid has no BSP runs or no coded/multi-message runs to compare.</summary>
    private static string? Regime(StragglerBenchmarkResult result, string path)
    {
        var delays = result.Rows.Select(r => r.Delay).Distinct().ToList();
        var contenders = result.Runs
            .Where(r => r.Scheme.Replicates)
            .Select(r => (r.Scheme, r.S)).Distinct().ToList();
        if (contenders.Count == 0 || !result.Rows.Any(r => r.Scheme == StragglerScheme.Bsp.Name)) return null;

        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / contenders.Count;
        for (int c = 0; c < contenders.Count; c++)
        {
            var bars = new List<ScottPlot.Bar>();
            for (int d = 0; d < delays.Count; d++)
            {
                var bsp = result.Find(StragglerScheme.Bsp, 0, delays[d]);
                var row = result.Find(contenders[c].Scheme, contenders[c].S, delays[d]);
                if (bsp is null || row is null) continue;
                bars.Add(new ScottPlot.Bar
                {
                    Position = d - 0.4 + width * (c + 0.5),
                    Value = bsp.MeanMs / row.MeanMs,
                    Size = width * 0.9,
                    FillColor = palette.GetColor(c),
                });
            }
            var series = plot.Add.Bars(bars);
            series.LegendText = contenders[c].Scheme.Label(contenders[c].S);
        }
        var parity = plot.Add.HorizontalLine(1);
        parity.LinePattern = ScottPlot.LinePattern.Dashed;
        parity.LegendText = "BSP";
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, delays.Count).Select(d => (double)d).ToArray(), delays.Select(Wrap).ToArray());
        plot.Title("speed-up over BSP (BSP mean step / scheme mean step); above 1 the scheme wins");
        plot.YLabel("× BSP speed");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, Math.Max(1000, 190 * delays.Count), 620);
        return path;
    }

    private static void LabelRuns(ScottPlot.Plot plot, IReadOnlyList<StragglerRun> runs)
    {
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, runs.Count).Select(i => (double)i).ToArray(), runs.Select(r => r.Scheme.Label(r.S)).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 35;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 110;
    }

    /// <summary>Breaks a spec after its model name so that group labels fit under their bars.</summary>
    private static string Wrap(string delay) => delay.Replace(":", ":\n").Replace(",", ",\n");

    private static string Slug(string delay) =>
        new string(delay.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch == '.' ? ch : '-').ToArray());
}
