using GpuPs.Cli.Bench;
using GpuPs.Cli.Cluster;

namespace GpuPs.Cli.Report;

/// <summary>The PNG plots of <c>gpups report</c> (ScottPlot 5). Each method writes one file and returns its path.</summary>
public static class ReportPlots
{
    /// <summary>Training loss of each step against the wall time of the steps so far, one line per run.</summary>
    public static string LossVsTime(IReadOnlyList<TrainRunInput> runs, string path) => Lines(runs.Select(run =>
    {
        var elapsed = new double[run.StepSeconds.Length];
        for (int i = 0; i < elapsed.Length; i++) elapsed[i] = (i == 0 ? 0 : elapsed[i - 1]) + run.StepSeconds[i];
        return (run.Label, elapsed, run.StepLoss);
    }), "training loss vs wall time, per scheme", "seconds of closed steps", "training loss of the step's batches", ScottPlot.Alignment.UpperRight, 3, path);

    /// <summary>The distribution of each run's step times as a CDF: the share of steps at most so long.</summary>
    public static string StepTimeCdf(IReadOnlyList<TrainRunInput> runs, string path) => Lines(runs.Select(run =>
    {
        var sorted = run.StepSeconds.Select(s => s * 1e3).Order().ToArray();
        return (run.Label, sorted, Enumerable.Range(1, sorted.Length).Select(i => (double)i / sorted.Length).ToArray());
    }), "step time distribution (CDF), per scheme", "step time (ms)", "share of steps at most this long", ScottPlot.Alignment.LowerRight, 0, path);

    private static string Lines(IEnumerable<(string Label, double[] X, double[] Y)> lines, string title, string x, string y,
        ScottPlot.Alignment legend, float markerSize, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (label, xs, ys) in lines)
        {
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = label;
            line.MarkerSize = markerSize;
        }
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend(legend);
        plot.SavePng(path, 1000, 600);
        return path;
    }

    /// <summary>The narrowest an abandoned step is drawn, as a share of the run's time axis: 1 %, about 10 pixels.</summary>
    public const double AbandonedMinWidth = 0.01;

    /// <summary>
    /// One row per worker, one bar per step from its start to its end: blue when on time, orange when slow (beyond
    /// <see cref="WorkerTimelines.SlowFactor"/> × the run's median step), red when abandoned (to the worker's next step,
    /// and at least <see cref="AbandonedMinWidth"/> of the axis wide).
    /// </summary>
    public static string Timeline(TrainRunInput run, IReadOnlyList<WorkerTimelines.Span> spans, string path)
    {
        var plot = new ScottPlot.Plot();
        // An abandoned step lasts until the worker hears the step closed, often a few ms of a run of seconds, and the
        // last one ends where it began: each is drawn at least AbandonedMinWidth of the run wide, and over the others,
        // so that every one shows.
        double run0 = spans.Count > 0 ? spans.Min(s => s.Start) : 0, width = spans.Count > 0 ? spans.Max(s => s.End) - run0 : 0;
        foreach (var s in spans.OrderBy(s => s.Kind == WorkerTimelines.SpanKind.Abandoned))
        {
            double end = Math.Max(s.End, s.Start + (s.Kind == WorkerTimelines.SpanKind.Abandoned ? AbandonedMinWidth * width : 1e-4));
            var box = plot.Add.Rectangle(s.Start, end, s.Worker - 0.35, s.Worker + 0.35);
            box.FillStyle.Color = s.Kind switch
            {
                WorkerTimelines.SpanKind.Abandoned => ScottPlot.Colors.Red,
                WorkerTimelines.SpanKind.Slow => ScottPlot.Colors.Orange,
                _ => ScottPlot.Colors.SteelBlue,
            };
            box.LineStyle.Width = 0;
        }
        var workers = spans.Select(s => s.Worker).Distinct().Order().ToArray();
        plot.Axes.Left.SetTicks(workers.Select(w => (double)w).ToArray(), workers.Select(w => $"worker {w}").ToArray());
        plot.Title($"who computed when: {run.Label} (orange: slow, red: abandoned)");
        plot.XLabel("seconds since the run started");
        plot.SavePng(path, 1200, 140 + 60 * Math.Max(1, workers.Length));
        return path;
    }

    /// <summary>Mean, median and 99th percentile step time of each row of a straggler-benchmark CSV.</summary>
    public static string StepPercentiles(IReadOnlyList<string> labels, double[] mean, double[] p50, double[] p99, string title, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<ScottPlot.Bar>();
        (string Name, double[] Values)[] series = [("mean", mean), ("p50", p50), ("p99", p99)];
        for (int s = 0; s < series.Length; s++)
            for (int i = 0; i < labels.Count; i++)
                bars.Add(new ScottPlot.Bar { Position = i * (series.Length + 1) + s, Value = series[s].Values[i], FillColor = palette.GetColor(s) });
        plot.Add.Bars(bars);
        for (int s = 0; s < series.Length; s++) plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[s].Name, FillColor = palette.GetColor(s) });
        plot.Axes.Bottom.SetTicks(labels.Select((_, i) => i * (series.Length + 1) + 1.0).ToArray(), [.. labels]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 160;
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel("step time (ms)");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, Math.Max(900, 40 * labels.Count * 4), 640);
        return path;
    }

    /// <summary>A horizontal bar per labelled value (link utilisation and other one-number-per-row tables).</summary>
    public static string Bars(IReadOnlyList<string> labels, double[] values, string title, string axis, string path)
    {
        var plot = new ScottPlot.Plot();
        var bars = plot.Add.Bars(values);
        bars.Horizontal = true;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, labels.Count).Select(i => (double)i).ToArray(), [.. labels]);
        plot.Axes.Margins(left: 0);
        plot.Title(title);
        plot.XLabel(axis);
        plot.SavePng(path, 1000, 120 + 28 * labels.Count);
        return path;
    }
}
