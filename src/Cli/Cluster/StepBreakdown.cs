using GpuPs.Worker;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// Where one worker's mean step went (or, for <see cref="StepBreakdown.Overall"/>, every worker's steps pooled), in ms:
/// the parts add up to <see cref="StepMs"/>, and each is also given as its share of it.
/// </summary>
/// <param name="Worker">The worker id; −1 for the pooled row.</param>
/// <param name="Device">The worker's compute device (the pooled row: every device, comma-separated).</param>
/// <param name="Steps">Steps averaged over.</param>
/// <param name="StepMs">Mean step wall time: from the previous step's push being answered until this step's was
/// (<see cref="WorkerStepPhases.WallSeconds"/>), so the steps tile the worker's time.</param>
/// <param name="ComputeMs">On the device: parameters up, the gradient kernels (a coded job's encode fused into them, a
/// throttled worker's repeats), the gradient read back.</param>
/// <param name="PullMs">Waiting for the step's parameters: the other workers, the shard's update and the transfer.</param>
/// <param name="PushMs">From the end of the compute until every shard answered the push.</param>
/// <param name="CompressMs">Rounding the push to its wire encoding with error feedback (bf16, top-k, sign).</param>
/// <param name="DelayMs">Delays injected by <c>--straggler-model</c>.</param>
/// <param name="OtherMs">The rest: the host's own overhead (the step loop, scheduling, a proportional job's assignment
/// check), the step time less every measured part.</param>
public sealed record StepBreakdownRow(int Worker, string Device, int Steps, double StepMs, double ComputeMs, double PullMs, double PushMs,
    double CompressMs, double DelayMs, double OtherMs)
{
    /// <summary><see cref="ComputeMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double ComputeShare => Share(ComputeMs);
    /// <summary><see cref="PullMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double PullShare => Share(PullMs);
    /// <summary><see cref="PushMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double PushShare => Share(PushMs);
    /// <summary><see cref="CompressMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double CompressShare => Share(CompressMs);
    /// <summary><see cref="DelayMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double DelayShare => Share(DelayMs);
    /// <summary><see cref="OtherMs"/> as a share of <see cref="StepMs"/>.</summary>
    public double OtherShare => Share(OtherMs);

    private double Share(double ms) => StepMs > 0 ? ms / StepMs : 0;

    /// <summary>The means over <paramref name="steps"/> (at least one).</summary>
    internal static StepBreakdownRow Of(int worker, string device, IReadOnlyList<WorkerStepPhases> steps)
    {
        double Mean(Func<WorkerStepPhases, double> seconds) => steps.Average(seconds) * 1e3;
        double step = Mean(p => p.WallSeconds), compute = Mean(p => p.LoadSeconds + p.ComputeSeconds + p.EncodeSeconds - p.CompressSeconds);
        double pull = Mean(p => p.PullSeconds), push = Mean(p => p.PushSeconds), compress = Mean(p => p.CompressSeconds), delay = Mean(p => p.DelaySeconds);
        return new(worker, device, steps.Count, step, compute, pull, push, compress, delay, Mean(p => p.OtherSeconds));
    }
}

/// <summary>
/// The per-step breakdown <c>gpups train</c> prints and writes: per worker and pooled over all of them, the mean step and
/// its parts (<see cref="StepBreakdownRow"/>), from each worker's step timeline (<see cref="WorkerReport.StepPhases"/>).
/// Each worker's first <see cref="WarmupSteps"/> steps are left out when it has more, and so are the steps it abandoned
/// (their step closed without it: <c>steps_abandoned</c> counts them).
/// </summary>
/// <param name="Workers">One row per worker that pushed a step, by id.</param>
/// <param name="Overall">Every worker's steps pooled (worker −1).</param>
public sealed record StepBreakdown(IReadOnlyList<StepBreakdownRow> Workers, StepBreakdownRow Overall)
{
    /// <summary>
    /// Leading steps of each worker left out: the first compiles the kernels (JIT; ILGPU's compiler, ~1 s on the CPU
    /// accelerator here) and opens connections, and in a synchronous job the other workers wait for that in their second.
    /// </summary>
    public const int WarmupSteps = 2;

    /// <summary>The breakdown of <paramref name="reports"/>' steps; null when no worker recorded a step.</summary>
    public static StepBreakdown? Of(IEnumerable<WorkerReport> reports)
    {
        var measured = reports.OrderBy(r => r.WorkerId)
            .Select(r => (Report: r, Steps: r.StepPhases is { Count: > WarmupSteps } all ? all.Skip(WarmupSteps).ToList() : [.. r.StepPhases]))
            .Where(w => w.Steps.Count > 0).ToList();
        if (measured.Count == 0) return null;
        var rows = measured.Select(w => StepBreakdownRow.Of(w.Report.WorkerId, w.Report.Device, w.Steps)).ToList();
        var overall = StepBreakdownRow.Of(-1, string.Join(", ", measured.Select(w => w.Report.Device).Distinct()), [.. measured.SelectMany(w => w.Steps)]);
        return new StepBreakdown(rows, overall);
    }
}
