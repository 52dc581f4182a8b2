using GpuPs.Protocol;
using GpuPs.Server.Observers;
using Serilog;

namespace GpuPs.Server.Coordination;

/// <summary>
/// The round-robin push schedule (R2SP) of a job, kept by shard 0, the coordinator. It follows the shard's membership
/// (live workers are in the plan, evicted ones are not) and step clock, folds in the times workers measure and report
/// after each push (<see cref="Report"/>), re-plans with <see cref="PushScheduler"/> whenever a step closes or the
/// membership changes (and at the first report), and versions each plan that moves a slot. Workers learn their slot from the reply to their
/// report (never by deriving it themselves): its order is their place in every shard's push turns (<see cref="PushTurns"/>:
/// pushes go by turn, not by the slot's time), and the plan orders the step's pulls (<see cref="Pulls"/>). Thread-safe.
/// </summary>
/// <remarks>
/// A worker that pushed under no plan yet (version 0) pushed together with every live worker; its measured transfer is
/// scaled by <c>concurrency / live</c> (the link was shared that many ways), so the first plan is about right instead of
/// a whole step too wide.
/// </remarks>
public sealed class PushCoordinator : IShardObserver
{
    /// <summary>A plan is a new version when it moves a slot by more than this share of its makespan (or 1 ms) or reorders.</summary>
    public const double ReplanTolerance = 0.02;

    private readonly object _gate = new();
    private readonly WorkerTimes[] _times;
    private readonly bool[] _live;
    private readonly int _concurrency;
    private readonly double _pullScale;
    private readonly ILogger _log;
    private readonly PullTurns _pulls;
    private PlannedSlot[] _plan;
    private double? _pullSeconds;   // a pull's measured time on the link (PullTurns); null: not measured yet
    private long _version;

    /// <summary>A coordinator of <paramref name="workers"/> workers with no one live yet and no plan (version 0).</summary>
    /// <param name="workers">n: the job's workers.</param>
    /// <param name="concurrency">Transfers that may share a server link at a time; at least 1.</param>
    /// <param name="time">The clock slots are measured on (the shard's).</param>
    /// <param name="log">Receives new plans (tagged with the shard by the caller).</param>
    /// <param name="pullScale">A pull's duration over a push's (2 when pushes are bfloat16, pulls float32).</param>
    public PushCoordinator(int workers, int concurrency, TimeProvider time, ILogger log, double pullScale = 1)
    {
        _pullScale = pullScale;
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        _times = Enumerable.Range(0, workers).Select(_ => new WorkerTimes()).ToArray();
        _live = new bool[workers];
        _plan = Enumerable.Repeat(PlannedSlot.None, workers).ToArray();
        _concurrency = concurrency;
        _log = log;
        _pulls = new PullTurns(workers, concurrency, time);
    }

    /// <summary>The order of the open step's pulls: at most the concurrency at a time, in the plan's order, back to back.</summary>
    public PullTurns Pulls => _pulls;

    /// <summary>The current plan's version; 0 until workers have reported times.</summary>
    public long Version { get { lock (_gate) return _version; } }

    /// <summary>
    /// Folds in the times a worker measured in its last step (when the request carries any; no push time when the step
    /// closed while it waited for its slot) and returns its current slot.
    /// </summary>
    public PushSlot Report(HeartbeatRequest request)
    {
        lock (_gate)
        {
            int id = request.WorkerId;
            if (request.ComputeSeconds > 0 || request.PushSeconds > 0)
            {
                // The worker times its push from its first byte (its turn's wait is not in it): with or without a plan, its
                // pushes went by turns, never all at once, so the time is its transfer's as it stands.
                double push = request.PushSeconds;
                _times[id].Add(request.ComputeSeconds, push <= 0 ? null : push);
                if (_version == 0) Replan(request.Step);   // the first plan need not wait for a step to close
            }
            return SlotOf(id);
        }
    }

    /// <summary>The current slot of <paramref name="workerId"/>.</summary>
    public PushSlot SlotOf(int workerId)
    {
        lock (_gate)
        {
            var slot = _plan[workerId];
            return new PushSlot
            {
                Version = _version, OffsetSeconds = slot.Offset, Order = slot.Order, Concurrency = _concurrency,
                PullAtSeconds = slot.PullAt, PushAtSeconds = slot.PushAt,
            };
        }
    }

    /// <inheritdoc />
    public void OnStepClosed(in StepClosed closed)
    {
        lock (_gate)
        {
            _pullSeconds = _pulls.MeasuredPullSeconds() ?? _pullSeconds;
            Replan(closed.Step);
            // A turn that outlasts three planned transfers (or 50 ms) stops holding the others back.
            double transfer = _pullSeconds ?? _times.Where((t, i) => _live[i]).Select(t => t.Transfer).DefaultIfEmpty(0).Max() * _pullScale;
            _pulls.NewStep(_version == 0 ? [.. _plan.Select(_ => -1)] : [.. _plan.Select(s => s.Order)], TimeSpan.FromSeconds(Math.Max(0.05, 3 * transfer)));
        }
    }

    /// <inheritdoc />
    public void OnMembershipChanged(in MembershipChange change)
    {
        lock (_gate)
        {
            _live[change.WorkerId] = change.Event != MembershipEvent.Evicted;
            if (change.Event == MembershipEvent.Rejoined) _times[change.WorkerId].Reset();
            Replan(change.Step);
        }
    }

    /// <summary>Plans the live workers' slots from their smoothed times; a plan that moves a slot gets the next version.</summary>
    private void Replan(long step)
    {
        if (!_times.Any(t => t.Measured)) return;
        var times = _times.Select((t, i) => _live[i] ? t : null).ToArray();
        var plan = PushScheduler.Plan(times, _concurrency, _pullScale, _pullSeconds);
        double makespan = PushScheduler.Makespan(times, plan);
        double tolerance = Math.Max(0.001, ReplanTolerance * makespan);
        bool moved = _version == 0 || plan.Where((s, i) => s.Order != _plan[i].Order
            || Math.Abs(s.PushAt - _plan[i].PushAt) > tolerance || Math.Abs(s.PullAt - _plan[i].PullAt) > tolerance).Any();
        if (!moved) return;
        _plan = plan;
        _version++;
        _log.Debug("Push schedule version {Version} at step {Step}: {Live} live workers, concurrency {Concurrency}, predicted step {Makespan:F3} s, pull/push starts {Offsets}",
            _version, step, plan.Count(s => s.Order >= 0), _concurrency, makespan, string.Join(' ', plan.Select(s => $"{s.PullAt:F3}/{s.PushAt:F3}")));
    }
}
