using GpuPs.Core.Coding;
using GpuPs.Core.Data;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using Serilog;

namespace GpuPs.Worker.Heterogeneity;

/// <summary>
/// A worker's side of a proportional job (<c>--assignment proportional</c>): it measures its throughput on its own
/// kernel (<see cref="SpeedProbe"/> before the first step, then every step's kernel time), reports it to the
/// coordinator in a heartbeat to shard 0 before each step, and computes each step with the assignment the reply
/// carries — loading the rows a new version gives it before the step, never in the middle of one. At a zero share (BSP,
/// <see cref="Core.Heterogeneity.ZeroShares"/>) it computes and pushes nothing: it asks shard 0 again every
/// <see cref="FirstAssignmentPoll"/> until the step closed without it (then it pulls the next step's model, as every
/// worker does) or a new version gives it rows for this very step (the workers that held rows all died). One per worker
/// loop; not thread-safe.
/// </summary>
/// <remarks>
/// Asking before every step costs one control call to shard 0 per step and makes the switch exact: the coordinator
/// publishes a new version when a step closes, and in BSP the next step cannot close until every worker has asked for
/// it, so every worker computes a step with the same version.
/// </remarks>
public sealed class AssignmentFollower(
    TrainingJob job, int workerId, Dataset train, IGradientKernel kernel, IWorkerStepHook hook,
    ShardedParameterClient client, WorkerReport report, ILogger log)
{
    /// <summary>How often a worker that has reported asks again for the first assignment (every worker must report first).</summary>
    public static readonly TimeSpan FirstAssignmentPoll = TimeSpan.FromMilliseconds(20);

    private WorkAssignment? _assignment;
    private IGradientCode? _code;
    private (double Compute, double Exchange, long Steps) _last;
    private bool _freshRows;   // the next measured step is the first on rows loaded since the last report
    private bool _relaysIdle;  // a version with zero shares came: the other shards learn every version from then on

    /// <summary>The assignment version this worker computes with (0 before the first).</summary>
    public long Version => _assignment?.Version ?? 0;

    /// <summary>This worker holds no rows in the version it computes with (a zero share).</summary>
    public bool Idle => _assignment?.Idle.Contains(workerId) == true;

    /// <summary>
    /// Measures this worker's speed, reports it, and waits until the coordinator has published the first assignment
    /// (once every worker has reported); returns this worker's partitions, loaded onto the kernel.
    /// </summary>
    public async Task<PartitionPlan> JoinAsync(long step, CancellationToken cancellationToken)
    {
        double speed = SpeedProbe.Measure(kernel, train, job, hook.ComputeRuns);
        log.Information("Worker {WorkerId} measured {Speed:F0} rows/s on its kernel; waiting for the coordinator's assignment", workerId, speed);
        while (true)
        {
            var reply = await Report(step, speed, 0, default, cancellationToken).ConfigureAwait(false);
            if (reply.Assignment is { } wire) return Load(AssignmentWire.FromWire(wire, job.Workers), step);
            // The probe is reported once; the polls after it say "not measured". A repeated probe that reached the
            // coordinator after version 1 was published counted as a step's speed (measured: a slow worker's 10x-low
            // probe in its recent reports set the first rebalance 3x off).
            speed = 0;
            await Task.Delay(FirstAssignmentPoll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Before <paramref name="step"/>: reports the speed measured since the last report and switches
    /// <paramref name="computation"/> to a new assignment version if the coordinator published one.
    /// </summary>
    public async Task BeforeStepAsync(long step, StepComputation computation, CancellationToken cancellationToken)
    {
        double speed = MeasuredSpeed(computation.Plan, out double exchange, out var shape);
        var reply = await Report(step, speed, exchange, shape, cancellationToken).ConfigureAwait(false);
        if (reply.Assignment is { } wire && wire.Version != Version) Switch(AssignmentWire.FromWire(wire, job.Workers), step, computation);
        while (Idle && !reply.Finished && reply.Step <= step)
        {
            await Task.Delay(FirstAssignmentPoll, cancellationToken).ConfigureAwait(false);
            reply = await Report(step, 0, 0, default, cancellationToken).ConfigureAwait(false);
            // A version published when the step closed starts with the next step: this worker takes it before that one.
            if (reply.Step <= step && reply.Assignment is { } again && again.Version != Version)
                Switch(AssignmentWire.FromWire(again, job.Workers), step, computation);
        }
        // The other shards of a coded job decode with the version this step is encoded with, and those of a BSP job with
        // zero shares wait by it: they learn it from the workers, before any push of the step (every step, so a restarted
        // shard learns it too).
        if (client.Layout.Count > 1 && (_code is not UncodedAssignment || _relaysIdle))
            await client.RelayToShardsAsync(new HeartbeatRequest { Step = step, RelayedAssignment = AssignmentWire.ToWire(_assignment!) }, cancellationToken).ConfigureAwait(false);
    }

    private void Switch(WorkAssignment assignment, long step, StepComputation computation)
    {
        var previous = _code!;
        var plan = Load(assignment, step);
        long loaded = RowsGained(previous, _code!);
        report.Rebalances++;
        report.RowsLoaded += loaded;
        computation.Replan(plan, job.Mode.CreatePushPolicy(plan, workerId));
        log.Information("Worker {WorkerId} switched to assignment version {Version} at step {Step}: partitions {Partitions} ({Rows} rows, {Loaded} newly loaded)",
            workerId, Version, step, plan.Held, plan.Data.Rows, loaded);
    }

    /// <summary>Sends the coordinator this worker's speed, computing <paramref name="step"/>; its reply carries the assignment.</summary>
    private Task<HeartbeatReply> Report(long step, double rowsPerSecond, double exchangeSeconds, StepShape shape, CancellationToken cancellationToken) =>
        client.ReportToCoordinatorAsync(new HeartbeatRequest
        {
            Step = step, RowsPerSecond = rowsPerSecond, ExchangeSeconds = exchangeSeconds,
            ShareRows = shape.Rows, StepRows = shape.StepRows, FixedSeconds = shape.FixedSeconds,
        }, cancellationToken);

    /// <summary>
    /// Rows per second of kernel time over the steps pushed since the last report (0 when none was, or when they are the
    /// first step on newly loaded rows), and what those steps held (<paramref name="shape"/>): this worker's rows, the
    /// step's, and the last step's seconds beside its kernels and its wait for the others — the parameters onto the
    /// device, the gradient off it, the push and the loop's own overhead — plus the push's time again for the pull's
    /// transfer, since the pull's measured time includes the wait for the step to close.
    /// </summary>
    private double MeasuredSpeed(PartitionPlan plan, out double exchangeSeconds, out StepShape shape)
    {
        shape = default;
        var now = (report.ComputeSeconds, report.PullSeconds + report.PushSeconds, report.Steps);
        long steps = now.Steps - _last.Steps;
        double compute = now.ComputeSeconds - _last.Compute;
        exchangeSeconds = steps > 0 ? (now.Item2 - _last.Exchange) / steps : 0;
        _last = now;
        if (steps <= 0 || compute <= 0) return 0;
        if (_freshRows)
        {
            // The first step on newly loaded rows is no measure of speed: measured 2.1-3.2 s of kernel time against
            // 0.3-0.5 s for the steps after it (cgroup bench, 300 000 rows: page faults on the new arrays, the kernels'
            // first JIT tiers), which swung the first rebalance the wrong way.
            _freshRows = false;
            return 0;
        }
        long rowsPerStep = Enumerable.Range(0, plan.Held.Count).Sum(h => (long)plan.BatchRowsOf(h));
        if (report.LastStep is { } last)
            shape = new StepShape(rowsPerStep, plan.StepRows, Math.Max(0, last.WallSeconds - last.PullSeconds - last.ComputeSeconds - last.DelaySeconds + last.PushSeconds));
        return rowsPerStep * steps / compute;
    }

    private PartitionPlan Load(WorkAssignment assignment, long step)
    {
        _assignment = assignment;
        _relaysIdle |= assignment.Idle.Count > 0;
        _code = job.Mode.Assignment(job, assignment.Shares());
        var plan = new PartitionPlan(train, _code, workerId, job.BatchSize);
        if (plan.Data.Rows > 0) kernel.SetData(plan.Data.Features, plan.Data.Labels);   // a zero share computes nothing
        _freshRows = true;
        log.Debug("Worker {WorkerId} holds partitions {Partitions} of assignment version {Version} from step {Step}", workerId, plan.Held, assignment.Version, step);
        return plan;
    }

    /// <summary>Rows this worker holds under <paramref name="after"/> but did not under <paramref name="before"/>.</summary>
    private long RowsGained(IGradientCode before, IGradientCode after)
    {
        var (old, now) = (Rows(before), Rows(after));
        return now.Sum(r => (long)r.Count) - now.Sum(r => old.Sum(o => (long)Math.Max(0, Math.Min(r.End, o.End) - Math.Max(r.Start, o.Start))));
    }

    private RowRange[] Rows(IGradientCode code)
    {
        var ranges = DataPartitioner.Partition(train.Rows, code.PartitionWeights);
        return code.PartitionsOf(workerId).Select(j => ranges[j]).ToArray();
    }
}
