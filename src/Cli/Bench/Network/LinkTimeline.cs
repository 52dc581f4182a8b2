using System.Globalization;
using GpuPs.Worker;

namespace GpuPs.Cli.Bench.Network;

/// <summary>One sample of a link's counters: Unix seconds, bytes into and out of the host so far.</summary>
public readonly record struct LinkSample(double At, long BytesIn, long BytesOut);

/// <summary>
/// Where a scenario's server link was busy and idle, step by step: a thread in the root namespace reads the server's
/// bridge-side veth counters every <see cref="Interval"/> while the workers run, and each worker's report gives the
/// Unix time its steps' parameters arrived and how long its pull, compute, encode and push took
/// (<see cref="WorkerStepPhases"/>), so pushes and pulls can be laid beside the bytes the link carried on one time axis.
/// The link is "busy" in a direction during an interval where it carried at least <see cref="BusyShare"/> of its rate.
/// </summary>
/// <remarks>5 ms: at 1 Gbit/s a 16 MB transfer spans 26 intervals, and reading two sysfs files costs ~20 µs.</remarks>
public sealed class LinkTimeline : IDisposable
{
    /// <summary>How often the counters are read.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(5);

    /// <summary>An interval counts as busy in a direction when it carried this share of the link's rate.</summary>
    public const double BusyShare = 0.5;

    private readonly LabHost _host;
    private readonly List<LinkSample> _samples = [];
    private readonly Thread _thread;
    private volatile bool _stopped;

    private LinkTimeline(LabHost host)
    {
        _host = host;
        _thread = new Thread(Sample) { IsBackground = true, Name = $"link timeline {host.Name}", Priority = ThreadPriority.AboveNormal };
    }

    /// <summary>Starts sampling <paramref name="host"/>'s link (it must have a rate).</summary>
    public static LinkTimeline Start(LabHost host)
    {
        if (host.RateMbit is null) throw new ArgumentException($"{host.Name}'s link is not shaped: no rate to compare with", nameof(host));
        var timeline = new LinkTimeline(host);
        timeline._thread.Start();
        return timeline;
    }

    /// <summary>The samples so far (a copy).</summary>
    public IReadOnlyList<LinkSample> Samples { get { lock (_samples) return [.. _samples]; } }

    /// <summary>
    /// The share of the time between <paramref name="from"/> and <paramref name="to"/> (Unix seconds) in which the link
    /// carried at least <see cref="BusyShare"/> of its rate into the host and out of it; NaN for a window with no samples.
    /// </summary>
    public (double In, double Out) BusyShares(double from, double to)
    {
        var s = Samples;
        double perSecond = _host.RateMbit!.Value * 1e6 / 8;
        double span = 0, busyIn = 0, busyOut = 0;
        for (int i = 1; i < s.Count; i++)
        {
            if (s[i - 1].At < from || s[i].At > to) continue;
            double dt = s[i].At - s[i - 1].At;
            if (dt <= 0) continue;
            span += dt;
            if (s[i].BytesIn - s[i - 1].BytesIn >= BusyShare * perSecond * dt) busyIn += dt;
            if (s[i].BytesOut - s[i - 1].BytesOut >= BusyShare * perSecond * dt) busyOut += dt;
        }
        return span > 0 ? (busyIn / span, busyOut / span) : (double.NaN, double.NaN);
    }

    /// <summary>
    /// Writes <paramref name="path"/>.csv (the link's Mbit/s in and out per 10 ms from the first sample, then each
    /// worker step's phases on the same axis) and <paramref name="path"/>.png: the link's rates over time above one row per
    /// worker with its pull wait, compute and push spans.
    /// </summary>
    public void Write(string path, IReadOnlyList<WorkerStepPhases[]> workers)
    {
        var s = Samples;
        if (s.Count < 2) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        double t0 = s[0].At;
        var bins = Bin(s, 0.010);
        using (var csv = new StreamWriter(path + ".csv"))
        {
            csv.WriteLine("kind,worker,step,from_s,to_s,in_mbit_s,out_mbit_s");
            foreach (var (from, to, inMbit, outMbit) in bins)
                csv.WriteLine(FormattableString.Invariant($"link,,,{from - t0:F4},{to - t0:F4},{inMbit:F1},{outMbit:F1}"));
            for (int w = 0; w < workers.Count; w++)
                foreach (var (kind, step, from, to) in Spans(workers[w]))
                    csv.WriteLine(FormattableString.Invariant($"{kind},{w},{step},{from - t0:F4},{to - t0:F4},,"));
        }
        WritePlot(path + ".png", bins, workers, t0);
    }

    /// <summary>Stops sampling.</summary>
    public void Dispose()
    {
        _stopped = true;
        _thread.Join();
    }

    private void Sample()
    {
        while (!_stopped)
        {
            var sample = new LinkSample((DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds, _host.BytesIn, _host.BytesOut);
            lock (_samples) _samples.Add(sample);
            Thread.Sleep(Interval);
        }
    }

    /// <summary>The link's rates in Mbit/s per bin of <paramref name="width"/> seconds.</summary>
    private static List<(double From, double To, double In, double Out)> Bin(IReadOnlyList<LinkSample> s, double width)
    {
        var bins = new List<(double, double, double, double)>();
        int start = 0;
        for (int i = 1; i < s.Count; i++)
        {
            double dt = s[i].At - s[start].At;
            if (dt < width && i < s.Count - 1) continue;
            bins.Add((s[start].At, s[i].At, (s[i].BytesIn - s[start].BytesIn) * 8 / dt / 1e6, (s[i].BytesOut - s[start].BytesOut) * 8 / dt / 1e6));
            start = i;
        }
        return bins;
    }

    /// <summary>A worker's steps as spans: the pull wait before its parameters arrived, the compute (and encode), the push.</summary>
    private static IEnumerable<(string Kind, long Step, double From, double To)> Spans(WorkerStepPhases[] steps)
    {
        foreach (var p in steps.Where(p => p.StartedAt > 0))
        {
            double computed = p.StartedAt + p.ComputeSeconds + p.EncodeSeconds;
            yield return ("pull", p.Step, p.StartedAt - p.PullSeconds, p.StartedAt);
            yield return ("compute", p.Step, p.StartedAt, computed);
            yield return ("push", p.Step, computed, computed + p.PushSeconds);
        }
    }

    private void WritePlot(string path, List<(double From, double To, double In, double Out)> bins, IReadOnlyList<WorkerStepPhases[]> workers, double t0)
    {
        var plot = new ScottPlot.Plot();
        double rate = _host.RateMbit!.Value;
        // The link's rates above the workers' rows: row w sits at y = -(w + 1) * rowHeight.
        double rowHeight = rate / 8;
        double[] xs = [.. bins.Select(b => (b.From + b.To) / 2 - t0)];
        var inLine = plot.Add.ScatterLine(xs, bins.Select(b => b.In).ToArray(), ScottPlot.Colors.SeaGreen);
        inLine.LegendText = $"{_host.Name} link in (pushes), Mbit/s";
        var outLine = plot.Add.ScatterLine(xs, bins.Select(b => b.Out).ToArray(), ScottPlot.Colors.IndianRed);
        outLine.LegendText = $"{_host.Name} link out (pulls), Mbit/s";
        var limit = plot.Add.HorizontalLine(rate, 1, ScottPlot.Colors.Black, ScottPlot.LinePattern.Dashed);
        limit.LegendText = "link rate";
        var colors = new Dictionary<string, ScottPlot.Color>
        {
            ["pull"] = ScottPlot.Colors.IndianRed.WithAlpha(0.5), ["compute"] = ScottPlot.Colors.SteelBlue, ["push"] = ScottPlot.Colors.SeaGreen.WithAlpha(0.7),
        };
        for (int w = 0; w < workers.Count; w++)
        {
            double y = -(w + 1) * rowHeight;
            foreach (var (kind, _, from, to) in Spans(workers[w]))
            {
                var box = plot.Add.Rectangle(from - t0, to - t0, y - rowHeight * 0.4, y + rowHeight * 0.4);
                box.FillColor = colors[kind];
                box.LineWidth = 0;
            }
        }
        plot.Axes.Left.SetTicks(
            [.. Enumerable.Range(0, workers.Count).Select(w => -(w + 1) * rowHeight), 0, rate / 2, rate],
            [.. Enumerable.Range(0, workers.Count).Select(w => $"worker {w}"), "0", (rate / 2).ToString("F0", CultureInfo.InvariantCulture), rate.ToString("F0", CultureInfo.InvariantCulture)]);
        foreach (var (kind, color) in colors) plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = $"worker {kind}", FillColor = color });
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.Title($"{Path.GetFileNameWithoutExtension(path)}: link rate (top) and each worker's pull wait, compute, push");
        plot.XLabel("seconds since the workers started");
        plot.SavePng(path, 1600, 300 + 40 * workers.Count);
    }
}
