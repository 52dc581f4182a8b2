using System.Diagnostics;
using GpuPs.Worker;

namespace GpuPs.Cli.Cluster;

/// <summary>One worker's step: when it began computing and when it finished (null: abandoned because the step closed without it).</summary>
/// <param name="Worker">Worker id.</param>
/// <param name="Step">The worker's step.</param>
/// <param name="StartSeconds">Seconds since the run started.</param>
/// <param name="EndSeconds">Seconds since the run started when every partition was computed (injected delays included); null when abandoned.</param>
public sealed record WorkerStepSpan(int Worker, long Step, double StartSeconds, double? EndSeconds);

/// <summary>
/// Records who computed what when (<see cref="WorkerStepSpan"/>), for the per-worker timelines of <c>gpups report</c>:
/// each in-process worker's step hook is wrapped (<see cref="Wrap"/>), so the straggler model runs unchanged and its
/// delays show as long spans. Thread-safe: every worker records into it.
/// </summary>
public sealed class StepTimeline
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<WorkerStepSpan> _spans = [];

    /// <summary>The spans so far, by worker then step.</summary>
    public IReadOnlyList<WorkerStepSpan> Spans
    {
        get { lock (_spans) return [.. _spans.OrderBy(s => s.Worker).ThenBy(s => s.Step)]; }
    }

    /// <summary><paramref name="inner"/>, recording worker <paramref name="worker"/>'s steps here.</summary>
    public IWorkerStepHook Wrap(IWorkerStepHook inner, int worker) => new Recording(this, inner, worker);

    private void Add(WorkerStepSpan span)
    {
        lock (_spans) _spans.Add(span);
    }

    private sealed class Recording(StepTimeline timeline, IWorkerStepHook inner, int worker) : IWorkerStepHook
    {
        private (long Step, double Start)? _open;

        public int ComputeRuns => inner.ComputeRuns;

        public void BeginStep(long step, int load)
        {
            // A step begun while the previous one is still open was abandoned: the step closed without this worker.
            if (_open is { } abandoned) timeline.Add(new WorkerStepSpan(worker, abandoned.Step, abandoned.Start, null));
            _open = (step, timeline._clock.Elapsed.TotalSeconds);
            inner.BeginStep(step, load);
        }

        public Task AfterPartitionAsync(CancellationToken cancellationToken) => inner.AfterPartitionAsync(cancellationToken);

        public void EndStep(TimeSpan compute)
        {
            inner.EndStep(compute);
            if (_open is { } open) timeline.Add(new WorkerStepSpan(worker, open.Step, open.Start, timeline._clock.Elapsed.TotalSeconds));
            _open = null;
        }
    }
}
