using System.Globalization;
using GpuPs.Worker;

namespace GpuPs.Cli.Bench.Hetero;

/// <summary>
/// One worker's part of one synchronous step, in ms on one time axis (every process of a bench cluster runs on this
/// machine and stamps its steps with the same clock): from the step's opening (the previous step's last push answered)
/// until its own push was answered, then its wait for the step to close.
/// </summary>
/// <param name="Step">The step.</param>
/// <param name="Worker">The worker.</param>
/// <param name="InboundMs">From the step's opening until its compute began: the parameters' transfer, the worker's wake-up
/// and its per-step call to the coordinator (the assignment check of a proportional job).</param>
/// <param name="ComputeMs">Its gradient kernels (repeats of a throttled worker included).</param>
/// <param name="DeviceMs">The parameters onto the device and the gradient off it (load and encode).</param>
/// <param name="PushMs">From the end of its compute until its push was answered.</param>
/// <param name="WaitMs">From its push's answer until the step closed: waiting for the others (0 for the last).</param>
/// <param name="Last">Its push was the step's last: it closed the step.</param>
public readonly record struct WorkerStepAnatomy(long Step, int Worker, double InboundMs, double ComputeMs, double DeviceMs, double PushMs, double WaitMs, bool Last)
{
    /// <summary>Its own step: everything but the wait (<see cref="InboundMs"/> + compute + device + push).</summary>
    public double OwnMs => InboundMs + ComputeMs + DeviceMs + PushMs;

    /// <summary>What its step cost beside the kernels: <see cref="OwnMs"/> − <see cref="ComputeMs"/>.</summary>
    public double FixedMs => OwnMs - ComputeMs;
}

/// <summary>
/// Where a synchronous run's steps went, per step and worker (<see cref="WorkerStepAnatomy"/>), from the workers' step
/// timelines (<see cref="WorkerReport.StepPhases"/>): a step opens when the previous one's last push was answered and
/// closes when its own last push was (the closing push is answered after the update). A worker's push that is not the
/// last waits for the others; the last worker's push closes the step. What <c>bench hetero</c> prints and writes to tell
/// compute, fixed costs and waits apart — the gap between a proportional run and its bound.
/// </summary>
public static class StepAnatomy
{
    /// <summary>
    /// The anatomy of every step from <paramref name="from"/> whose previous step every pushing worker also recorded
    /// (so its opening is known), ordered by step and worker. Workers that did not push a step (a zero share) have no row.
    /// </summary>
    public static IReadOnlyList<WorkerStepAnatomy> Of(IReadOnlyDictionary<int, IReadOnlyList<WorkerStepPhases>> workers, long from)
    {
        ArgumentNullException.ThrowIfNull(workers);
        var answered = new Dictionary<long, List<(int Worker, WorkerStepPhases Phases, double Answered)>>();
        foreach (var (worker, steps) in workers)
            foreach (var p in steps)
            {
                double end = p.StartedAt + p.LoadSeconds + p.ComputeSeconds + p.EncodeSeconds + p.DelaySeconds + p.PushSeconds;
                (answered.TryGetValue(p.Step, out var list) ? list : answered[p.Step] = []).Add((worker, p, end));
            }
        var rows = new List<WorkerStepAnatomy>();
        foreach (var (step, pushes) in answered.Where(s => s.Key >= from).OrderBy(s => s.Key))
        {
            if (!answered.TryGetValue(step - 1, out var previous)) continue;
            double opened = previous.Max(p => p.Answered), closed = pushes.Max(p => p.Answered);
            int last = pushes.MaxBy(p => p.Answered).Worker;
            foreach (var (worker, p, end) in pushes.OrderBy(p => p.Worker))
                rows.Add(new WorkerStepAnatomy(step, worker, (p.StartedAt - opened) * 1e3, (p.ComputeSeconds + p.DelaySeconds) * 1e3,
                    (p.LoadSeconds + p.EncodeSeconds) * 1e3, p.PushSeconds * 1e3, (closed - end) * 1e3, worker == last));
        }
        return rows;
    }

    /// <summary>
    /// One line per worker: its mean inbound, compute, device, push and wait ms, its fixed ms (p50), and how often it
    /// closed the step — the same worker every step is a share off, a random one is noise.
    /// </summary>
    public static IEnumerable<string> Summary(IReadOnlyList<WorkerStepAnatomy> rows)
    {
        int steps = rows.Select(r => r.Step).Distinct().Count();
        foreach (var w in rows.GroupBy(r => r.Worker).OrderBy(g => g.Key))
        {
            var fixedMs = w.Select(r => r.FixedMs).Order().ToArray();
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  worker {w.Key}: inbound {w.Average(r => r.InboundMs),6:F1}  compute {w.Average(r => r.ComputeMs),6:F1}  device {w.Average(r => r.DeviceMs),5:F1}  push {w.Average(r => r.PushMs),5:F1}  wait {w.Average(r => r.WaitMs),6:F1}  fixed p50 {StepSeries.Quantile(fixedMs, 0.5),6:F1}  closed {w.Count(r => r.Last)}/{steps} steps");
        }
    }

    /// <summary>Appends <paramref name="rows"/> of scenario <paramref name="scenario"/> to <paramref name="path"/> (header when new).</summary>
    public static void Append(string path, string scenario, IReadOnlyList<WorkerStepAnatomy> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        bool header = !File.Exists(path);
        using var writer = new StreamWriter(path, append: true);
        if (header) writer.WriteLine("scenario,step,worker,inbound_ms,compute_ms,device_ms,push_ms,wait_ms,fixed_ms,last");
        foreach (var r in rows)
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{scenario}\",{r.Step},{r.Worker},{r.InboundMs:F3},{r.ComputeMs:F3},{r.DeviceMs:F3},{r.PushMs:F3},{r.WaitMs:F3},{r.FixedMs:F3},{(r.Last ? 1 : 0)}"));
    }
}
