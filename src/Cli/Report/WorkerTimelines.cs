using GpuPs.Cli.Bench;
using GpuPs.Cli.Cluster;

namespace GpuPs.Cli.Report;

/// <summary>
/// Who straggled when: a run's <see cref="WorkerStepSpan"/>s classified as on time, slow or abandoned, and counted per worker.
/// </summary>
public static class WorkerTimelines
{
    /// <summary>A span longer than this many times the run's median finished span counts as slow (2: twice the typical step).</summary>
    public const double SlowFactor = 2.0;

    /// <summary>How a worker's step went.</summary>
    public enum SpanKind
    {
        /// <summary>Finished within <see cref="SlowFactor"/> × the median.</summary>
        OnTime,
        /// <summary>Finished, but beyond <see cref="SlowFactor"/> × the median.</summary>
        Slow,
        /// <summary>Abandoned: the step closed without this worker, which moved on.</summary>
        Abandoned,
    }

    /// <summary>A drawn span: an abandoned step ends where the worker's next step began.</summary>
    public readonly record struct Span(int Worker, long Step, double Start, double End, SpanKind Kind);

    /// <summary>One worker's counts.</summary>
    public readonly record struct WorkerCounts(int Worker, int Steps, int Slow, int Abandoned, double MeanSeconds, string SlowSteps);

    /// <summary>The spans of <paramref name="timeline"/>, classified.</summary>
    public static List<Span> Classify(IReadOnlyList<WorkerStepSpan> timeline)
    {
        var finished = timeline.Where(s => s.EndSeconds is not null).Select(s => s.EndSeconds!.Value - s.StartSeconds).Order().ToArray();
        double median = finished.Length > 0 ? StepSeries.Quantile(finished, 0.5) : 0;
        var spans = new List<Span>();
        foreach (var worker in timeline.GroupBy(s => s.Worker))
        {
            var steps = worker.OrderBy(s => s.Step).ToList();
            for (int i = 0; i < steps.Count; i++)
            {
                var s = steps[i];
                if (s.EndSeconds is double end)
                    spans.Add(new Span(s.Worker, s.Step, s.StartSeconds, end, end - s.StartSeconds > SlowFactor * median ? SpanKind.Slow : SpanKind.OnTime));
                else
                    spans.Add(new Span(s.Worker, s.Step, s.StartSeconds, i + 1 < steps.Count ? steps[i + 1].StartSeconds : s.StartSeconds, SpanKind.Abandoned));
            }
        }
        return spans;
    }

    /// <summary>Per worker: steps, slow and abandoned ones (with the first few step numbers), mean finished step time.</summary>
    public static List<WorkerCounts> Count(IReadOnlyList<Span> spans) =>
        spans.GroupBy(s => s.Worker).OrderBy(g => g.Key).Select(g =>
        {
            var late = g.Where(s => s.Kind != SpanKind.OnTime).Select(s => s.Step).Order().ToList();
            var done = g.Where(s => s.Kind != SpanKind.Abandoned).ToList();
            return new WorkerCounts(g.Key, g.Count(), g.Count(s => s.Kind == SpanKind.Slow), g.Count(s => s.Kind == SpanKind.Abandoned),
                done.Count > 0 ? done.Average(s => s.End - s.Start) : double.NaN,
                string.Join(", ", late.Take(8)) + (late.Count > 8 ? ", …" : ""));
        }).ToList();
}
