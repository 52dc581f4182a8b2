namespace GpuPs.Cli.Bench.Overhead;

/// <summary>
/// The stacked-bar plot of <c>gpups bench overhead</c>: one horizontal bar per mode, a worker's mean step split into
/// compute, encode, push and pull (the wait for the next parameters), with the shard's mean step as a marker beside it.
/// </summary>
public static class OverheadPlot
{
    private static readonly (string Name, Func<OverheadRow, double> Ms, ScottPlot.Color Color)[] Phases =
    [
        ("compute", r => r.ComputeMs, ScottPlot.Colors.SteelBlue),
        ("encode", r => r.EncodeMs, ScottPlot.Colors.Orange),
        ("push", r => r.PushMs, ScottPlot.Colors.SeaGreen),
        ("pull (wait for the step)", r => r.PullMs, ScottPlot.Colors.IndianRed),
    ];

    /// <summary>Writes the plot of <paramref name="rows"/> as a PNG at <paramref name="path"/>.</summary>
    public static void Write(string path, string title, IReadOnlyList<OverheadRow> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var plot = new ScottPlot.Plot();
        var bars = new List<ScottPlot.Bar>();
        for (int i = 0; i < rows.Count; i++)
        {
            double from = 0;
            foreach (var (_, ms, color) in Phases)
            {
                var value = ms(rows[i]);
                if (double.IsNaN(value)) continue;
                bars.Add(new ScottPlot.Bar { Position = i, ValueBase = from, Value = from + value, FillColor = color });
                from += value;
            }
        }
        var stacked = plot.Add.Bars(bars);
        stacked.Horizontal = true;
        var shard = plot.Add.Markers(rows.Select(r => r.StepMeanMs).ToArray(), Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray(),
            ScottPlot.MarkerShape.FilledDiamond, 10, ScottPlot.Colors.Black);
        foreach (var (name, _, color) in Phases) plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = name, FillColor = color });
        plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = "shard's mean step", MarkerShape = ScottPlot.MarkerShape.FilledDiamond, MarkerFillColor = ScottPlot.Colors.Black });
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray(), rows.Select(r => r.Mode).ToArray());
        plot.Axes.Margins(left: 0);
        plot.Title(title);
        plot.XLabel("ms per step (worker mean)");
        plot.SavePng(path, 1000, 200 + 60 * rows.Count);
    }
}
