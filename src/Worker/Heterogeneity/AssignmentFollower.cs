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
/// carries — loading the rows a new version gives it before the step, never in the middle of one. One per worker loop;
/// not thread-safe.
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

    /// <summary>The assignment version this worker computes with (0 before the first).</summary>
    public long Version => _assignment?.Version ?? 0;

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
            var reply = await Report(step, speed, 0, cancellationToken).ConfigureAwait(false);
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
        var reply = await Report(step, MeasuredSpeed(computation.Plan, out double exchange), exchange, cancellationToken).ConfigureAwait(false);
        if (reply.Assignment is { } wire && wire.Version != Version) Switch(AssignmentWire.FromWire(wire, job.Workers), step, computation);
        // The other shards of a coded job decode with the version this step is encoded with: they learn it from the
        // workers, before any push of the step (every step, so a restarted shard learns it too).
        if (client.Layout.Count > 1 && _code is not UncodedAssignment)
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
    private Task<HeartbeatReply> Report(long step, double rowsPerSecond, double exchangeSeconds, CancellationToken cancellationToken) =>
        client.ReportToCoordinatorAsync(new HeartbeatRequest { Step = step, RowsPerSecond = rowsPerSecond, ExchangeSeconds = exchangeSeconds }, cancellationToken);

    /// <summary>
    /// Rows per second of kernel time over the steps pushed since the last report (0 when none was, or when they are the
    /// first step on newly loaded rows).
    /// </summary>
    private double MeasuredSpeed(PartitionPlan plan, out double exchangeSeconds)
    {
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
        return rowsPerStep * steps / compute;
    }

    private PartitionPlan Load(WorkAssignment assignment, long step)
    {
        _assignment = assignment;
        _code = job.Mode.Assignment(job, assignment.Speeds);
        var plan = new PartitionPlan(train, _code, workerId, job.BatchSize);
        kernel.SetData(plan.Data.Features, plan.Data.Labels);
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
