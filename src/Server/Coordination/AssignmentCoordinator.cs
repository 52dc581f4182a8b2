using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using Serilog;
using Serilog.Core;

namespace GpuPs.Server.Coordination;

/// <summary>
/// The coordinator's proportional assignment (shard 0, <c>--assignment proportional</c>): keeps a smoothed speed per
/// worker from the speeds workers report on their heartbeats, publishes assignment version 1 once every worker has
/// reported, and a new version at a step boundary when the speeds have drifted (<see cref="ShareDrift"/>). Workers
/// receive the assignment in the heartbeat reply and compute the step it names with it; nothing is derived on the
/// worker side but the partitions of the speeds it was sent.
/// </summary>
/// <remarks>
/// Called by <see cref="ParameterShard"/> under its lock, so that a version published when a step closes is what every
/// worker asking for the next step receives: in BSP that step cannot close before every worker has asked, so no worker
/// computes a step with another version than its peers. Not thread-safe on its own.
/// </remarks>
public sealed class AssignmentCoordinator
{
    private readonly TrainingJob _job;
    private readonly ILogger _log;
    private readonly ShareDrift _drift;
    private bool _probesChecked;   // version 1 (from the probes) was checked against the steps' speeds

    /// <param name="job">The job: its workers and the mode that turns speeds into an assignment.</param>
    /// <param name="log">Receives the published versions and the clamped reports.</param>
    /// <param name="drift">When to rebalance (null: 25% share change for 3 steps).</param>
    public AssignmentCoordinator(TrainingJob job, ILogger log, ShareDrift? drift = null)
    {
        _job = job;
        _log = log;
        _drift = drift ?? new ShareDrift();
        Estimates = new SpeedEstimates(job.Workers);
    }

    /// <summary>The smoothed speeds and exchange times, for status.</summary>
    public SpeedEstimates Estimates { get; }

    /// <summary>The assignment in force (null until every worker has reported a speed).</summary>
    public WorkAssignment? Current { get; private set; }

    /// <summary>The gradient code of <see cref="Current"/> (the shard's aggregator decodes with it).</summary>
    public IGradientCode? Code { get; private set; }

    /// <summary>
    /// Takes worker <paramref name="worker"/>'s measured speed (rows per second of its kernels; 0: none) and push/pull
    /// seconds; returns the code of version 1 when this report completes the set, else null. An unbelievable report is
    /// logged and moves no estimate.
    /// </summary>
    /// <param name="worker">The reporting worker's id.</param>
    /// <param name="rowsPerSecond">Its measured throughput.</param>
    /// <param name="exchangeSeconds">Its last step's push and pull time.</param>
    /// <param name="openStep">The shard's open step (version 1 is computed from it).</param>
    public IGradientCode? Report(int worker, double rowsPerSecond, double exchangeSeconds, long openStep)
    {
        // Before version 1 no worker computes a step, so every speed is a probe (AssignmentFollower.JoinAsync).
        if (!Estimates.Report(worker, rowsPerSecond, exchangeSeconds, probe: Current is null))
            _log.Warning("Worker {WorkerId} reported speed {Reported} rows/s at step {Step}: not a throughput in (0, {Max:G1}]; its estimate stays {Speed:G4}",
                worker, rowsPerSecond, openStep, WorkerSpeeds.MaxSpeed, Estimates.Speed(worker));
        return Current is null && Estimates.Complete ? Publish(openStep, "every worker reported its speed") : null;
    }

    /// <summary>
    /// A step closed and <paramref name="openStep"/> opened: returns the code of a new version computed with from
    /// <paramref name="openStep"/> when the speeds have drifted for long enough, else null. Drift is judged on the median
    /// of each worker's last few reports (<see cref="SpeedEstimates.Recent"/>), not the smoothed mean: one slow step (a
    /// co-tenant's burst, a collection) moves a mean by half its size and, on a loaded 2-core machine, three such steps
    /// in a row rebalanced a 1 : 2 : 4 cluster twice in 40 steps for nothing, each rebalance costing a step of reloading.
    /// Version 1 is the probes' (<see cref="SpeedEstimates.Report"/>) and is checked once, as soon as every worker's last
    /// <see cref="SpeedEstimates.RecentReports"/> reports are steps (the first step on new rows is not reported), and
    /// replaced at once if its shares are off by more than the threshold: a probe is a guess, not a speed that drifted.
    /// </summary>
    public IGradientCode? OnStepClosed(long openStep)
    {
        if (Current is null || openStep >= _job.Steps) return null;
        if (!_probesChecked)
        {
            if (openStep < Current.FromStep + SpeedEstimates.RecentReports + 1) return null;
            _probesChecked = true;
            var measured = WorkerSpeeds.Clamp(Estimates.Recent(), Logger.None);
            double off = ShareDrift.LargestShareChange(Current.Speeds, measured);
            return off > _drift.Threshold ? Publish(openStep, $"the probes' shares were off by up to {off:P0} from {SpeedEstimates.RecentReports} steps' speeds") : null;
        }
        var estimates = WorkerSpeeds.Clamp(Estimates.Recent(), Logger.None);
        if (!_drift.Observe(Current.Speeds, estimates)) return null;
        return Publish(openStep, $"shares drifted by up to {ShareDrift.LargestShareChange(Current.Speeds, estimates):P0} for {_drift.Patience} steps");
    }

    /// <summary>Publishes the assignment for the speeds of the last few reports (<see cref="SpeedEstimates.Recent"/>), those the drift was judged on.</summary>
    private IGradientCode Publish(long openStep, string why)
    {
        var speeds = WorkerSpeeds.Clamp(Estimates.Recent(), _log);
        var code = _job.Mode.Assignment(_job, speeds);
        double moved = Code is null ? 0 : DataMovement.Fraction(Code, code);
        Current = new WorkAssignment((Current?.Version ?? 0) + 1, openStep, speeds, moved);
        Code = code;
        _log.Information("Assignment version {Version} from step {Step} ({Why}): speeds {Speeds} rows/s, {Construction}; moves {Moved:P1} of the rows",
            Current.Version, openStep, why, speeds.Select(v => Math.Round(v, 1)).ToArray(), code.Construction, moved);
        return code;
    }
}
