using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using GpuPs.Protocol;
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
    private readonly ShareOffset _offset;
    private readonly RebalancePayoff _payoff = new();
    private string? _guess = "the probes'";   // the version in force is a guess (the probes', a jump's) still to be checked
    private bool[]? _live;         // BSP: the live workers Current was computed for
    private readonly List<long> _fromSteps = [];

    /// <param name="job">The job: its workers and the mode that turns speeds into an assignment.</param>
    /// <param name="log">Receives the published versions and the clamped reports.</param>
    /// <param name="drift">When to rebalance (null: 25% share change for 3 steps).</param>
    public AssignmentCoordinator(TrainingJob job, ILogger log, ShareDrift? drift = null)
    {
        _job = job;
        _log = log;
        _drift = drift ?? new ShareDrift();
        Estimates = new SpeedEstimates(job.Workers);
        _offset = new ShareOffset(job.Workers);
    }

    /// <summary>
    /// Version 1 (the probes') and a version of the fast path (<see cref="SpeedJump"/>) are replaced by the steps' speeds
    /// when their shares are off by more than 5%, or by more than the speeds' noise (<see cref="ShareDrift.NoiseThreshold"/>),
    /// not only past the 25% of a drift: a probe is a guess, and replacing it once costs one reload. Measured (1:2:4 cgroup quotas, loaded): with the probes' shares kept at
    /// less than 25% off, the slowest worker's kernels took 1/0.78 of the fastest's all run long and the step was 1.28×
    /// the bound, with no rebalance in 50 steps.
    /// </summary>
    public const double ProbeTolerance = 0.05;

    /// <summary>What a reassignment costs, as this job measured it, and whether one pays for itself.</summary>
    public RebalancePayoff Payoff => _payoff;

    /// <summary>The smoothed speeds and exchange times, for status.</summary>
    public SpeedEstimates Estimates { get; }

    /// <summary>The assignment in force (null until every worker has reported a speed).</summary>
    public WorkAssignment? Current { get; private set; }

    /// <summary>
    /// The published versions' first steps (<see cref="WorkAssignment.FromStep"/>), oldest first: every version's while
    /// there are at most <see cref="KeptFromSteps"/>, then the newest that many (status carries them; the payoff rule
    /// makes versions rare, but a long job must not grow them without bound).
    /// </summary>
    public IReadOnlyList<long> FromSteps => _fromSteps;

    /// <summary>First steps of versions kept for <see cref="FromSteps"/>: 256.</summary>
    public const int KeptFromSteps = 256;

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
    /// <param name="shape">What the measured steps held, for the zero-share rule (none: not reported).</param>
    public IGradientCode? Report(int worker, double rowsPerSecond, double exchangeSeconds, long openStep, StepShape shape = default)
    {
        // Before version 1 no worker computes a step, so every speed is a probe (AssignmentFollower.JoinAsync).
        // A report before FromStep + 2 measured steps of the previous version (the first step on new rows is not reported).
        bool current = Current is null || openStep >= Current.FromStep + 2;
        // A worker reports, before the step it is about to compute, the step before it.
        if (Current is not null && current && rowsPerSecond <= WorkerSpeeds.MaxSpeed) _offset.Add(worker, openStep - 1, rowsPerSecond);
        if (!Estimates.Report(worker, rowsPerSecond, exchangeSeconds, probe: Current is null, shape, current))
            _log.Warning("Worker {WorkerId} reported speed {Reported} rows/s at step {Step}: not a throughput in (0, {Max:G1}]; its estimate stays {Speed:G4}",
                worker, rowsPerSecond, openStep, WorkerSpeeds.MaxSpeed, Estimates.Speed(worker));
        return Current is null && Estimates.Complete ? Publish(openStep, "every worker reported its speed", null) : null;
    }

    /// <summary>
    /// A step closed and <paramref name="openStep"/> opened: returns the code of a new version computed with from
    /// <paramref name="openStep"/> when the speeds have drifted for long enough, else null. Drift is judged on the median
    /// of each worker's last few reports (<see cref="SpeedEstimates.Recent"/>), not the smoothed mean: one slow step (a
    /// co-tenant's burst, a collection) moves a mean by half its size and, on a loaded 2-core machine, three such steps
    /// in a row rebalanced a 1 : 2 : 4 cluster twice in 40 steps for nothing, each rebalance costing a step of reloading.
    /// Every version is judged only once each worker with rows has <see cref="SpeedEstimates.RecentReports"/> reports of
    /// steps computed with it (the first step on new rows is not reported, and a report that arrives after the switch
    /// but measured the previous shares does not count): speeds measured on rows that just moved are not a drift. Idle
    /// (zero-share) and evicted workers are not judged, and the threshold rises with the speeds' noise
    /// (<see cref="ShareDrift"/>). Version 1 is the probes' (<see cref="SpeedEstimates.Report"/>) and is checked once,
    /// then replaced at once if its shares are off by more than <see cref="ProbeTolerance"/> (or the noise): a probe is a
    /// guess, not a speed that drifted; so is a version of the fast path (<see cref="SpeedJump"/>), checked the same way.
    /// </summary>
    /// <param name="openStep">The step that opened.</param>
    /// <param name="live">BSP: per worker, false when evicted (null: every worker live). A change since the version in
    /// force was published republishes at once, evicted workers given a zero share and the others' zero shares judged anew.</param>
    /// <param name="closedSeconds">The closed step's wall time (0: not measured), for what a reassignment costs (<see cref="RebalancePayoff"/>).</param>
    public IGradientCode? OnStepClosed(long openStep, IReadOnlyList<bool>? live = null, double closedSeconds = 0)
    {
        _payoff.ObserveStep(openStep - 1, closedSeconds);
        if (Current is null || openStep >= _job.Steps) return null;
        if (ZeroSharesAllowed && _live is not null && live is not null && !live.SequenceEqual(_live))
            return Publish(openStep, $"workers live: {string.Join(",", Enumerable.Range(0, live.Count).Where(i => live[i]))}", live);
        var judged = Enumerable.Range(0, _job.Workers).Select(i => live?[i] != false && !Current.Idle.Contains(i)).ToArray();
        var estimates = WorkerSpeeds.Clamp(Estimates.Recent(), Logger.None);
        if (_guess is null && Jump(openStep, judged, estimates, live) is { } jumped) return jumped;
        // Judged only on reports measured on this version's rows: earlier ones measured shares that just moved.
        if (Enumerable.Range(0, judged.Length).Any(i => judged[i] && Estimates.Fresh(i) < SpeedEstimates.RecentReports)) return null;
        double noise = ShareDrift.NoiseThreshold(Enumerable.Range(0, judged.Length).Where(i => judged[i]).Select(Estimates.Spread), SpeedEstimates.RecentReports);
        if (_guess is { } guess)
        {
            _guess = null;
            double off = ShareDrift.LargestShareChange(Current.Speeds, estimates, judged);
            if (off > Math.Max(ProbeTolerance, noise) && Pays(estimates, judged, openStep, out string gain))
                return Publish(openStep, $"{guess} shares were off by up to {off:P0} from {SpeedEstimates.RecentReports} steps' speeds; {gain}", live);
            // The guessed shares were right, but only the steps measure what a share costs beside its rows.
            if (!IdleFor(estimates, live).SequenceEqual(Current.Idle)) return Publish(openStep, "the steps' costs change the zero shares", live);
            return null;
        }
        if (_drift.Observe(Current.Speeds, estimates, judged, noise) && Pays(estimates, judged, openStep, out string paid))
            return Publish(openStep, $"shares drifted by up to {ShareDrift.LargestShareChange(Current.Speeds, estimates, judged):P0} for {_drift.Patience} steps (noise threshold {noise:P0}); {paid}", live);
        if (_offset.Proposal(Current.Speeds, judged, out double offset, out int steps) is { } steady && Pays(steady, judged, openStep, out string saved))
            return Publish(openStep, $"a share was off by {offset:P0} over the last {steps} steps; {saved}", live, steady);
        return null;
    }

    /// <summary>
    /// The fast path (<see cref="SpeedJump"/>): once every judged worker has <see cref="SpeedJump.Reports"/> reports
    /// measured on this version's rows, a worker each of whose last reports moved its share past the drift threshold
    /// (or a single report's noise, the larger) the same way is reassigned at once at their median, the others at their
    /// recent medians — if that pays (<see cref="RebalancePayoff"/>). Measured before (<c>bench hetero --scenarios
    /// drop-proportional</c>, eighth session): the median's rule published 6 steps after a 4× drop (the report comes a
    /// step late, the median needs 3 slow reports, the drift 3 steps); this publishes after 4. Three reports measured on
    /// the old rows are a guess, as the probes are: the version is checked once, like version 1, against
    /// <see cref="SpeedEstimates.RecentReports"/> reports on its own rows (measured: a jump's shares left one run 1.05-1.44×
    /// the bound for 25 steps, until a look 22 steps later found 12.5 % of a step to save, too late to pay).
    /// </summary>
    private IGradientCode? Jump(long openStep, bool[] judged, double[] recent, IReadOnlyList<bool>? live)
    {
        var workers = Enumerable.Range(0, judged.Length).Where(i => judged[i]).ToArray();
        if (workers.Any(i => Estimates.Fresh(i) < SpeedJump.Reports)) return null;
        var newest = Enumerable.Range(0, judged.Length).Select(i => (IReadOnlyList<double>)Estimates.Newest(i, SpeedJump.Reports)).ToArray();
        var spreads = Enumerable.Range(0, judged.Length).Select(Estimates.Spread).ToArray();
        if (SpeedJump.Find(Current!.Speeds, recent, newest, judged, spreads, SpeedEstimates.RecentReports, _drift.Threshold) is not { } jump) return null;
        var estimates = (double[])recent.Clone();
        estimates[jump.Worker] = jump.Speed;
        if (!Pays(estimates, judged, openStep, out string paid)) return null;
        var code = Publish(openStep, $"worker {jump.Worker}'s last {SpeedJump.Reports} reports each moved its share past {jump.Threshold:P0} the same way " +
            $"(their median {jump.Speed:G4} rows/s: {jump.Change:+0%;-0%}); {paid}", live, estimates);
        _guess = "the jump's";
        return code;
    }

    /// <summary>
    /// Whether shares by <paramref name="speeds"/> save more over the steps left than a reassignment costs
    /// (<see cref="RebalancePayoff"/>); <paramref name="why"/> says by how much, and a refusal is logged.
    /// </summary>
    private bool Pays(double[] speeds, bool[] judged, long openStep, out string why)
    {
        double gain = RebalancePayoff.StepGain(Current!.Shares(), speeds, judged);
        long left = _job.Steps - openStep;
        why = $"saves {gain:P1} of a step for {left} steps against a cost of {_payoff.Cost:F2} steps";
        if (_payoff.Pays(gain, left)) return true;
        _log.Information("Assignment version {Version} kept at step {Step}: a new one {Why}", Current.Version, openStep, why);
        return false;
    }

    /// <summary>
    /// BSP: workers were evicted or came back while <paramref name="openStep"/> is open, and it did not close. When no
    /// live worker holds rows any more (the workers with rows all died), nobody can close it: returns the code of a
    /// version from <paramref name="openStep"/> itself, on the live workers (no push of the step was taken, so nothing
    /// mixes versions). Otherwise null: the step closes without the evicted workers and the next version starts then.
    /// </summary>
    public IGradientCode? OnMembershipChanged(long openStep, IReadOnlyList<bool> live)
    {
        if (!ZeroSharesAllowed || Current is null || openStep >= _job.Steps) return null;
        if (Enumerable.Range(0, live.Count).Any(i => live[i] && !Current.Idle.Contains(i))) return null;
        return Publish(openStep, "no live worker held rows", live);
    }

    /// <summary>Zero shares only in BSP: its step sums whatever rows come, where a code must tolerate its stragglers.</summary>
    private bool ZeroSharesAllowed => _job.Mode.Mode == SyncMode.Bsp && _job.Assignment == AssignmentPolicy.Proportional;

    /// <summary>The workers a version on <paramref name="speeds"/> gives a zero share (<see cref="ZeroShares"/>), ascending.</summary>
    private int[] IdleFor(double[] speeds, IReadOnlyList<bool>? live) => ZeroSharesAllowed ? IdleFor(CostsAt(speeds), live) : [];

    /// <summary>Each worker's measured step costs at <paramref name="speeds"/>, as the zero-share rule weighs them.</summary>
    private StepCost[] CostsAt(double[] speeds) => speeds.Select((v, i) => Estimates.Cost(i, v)).ToArray();

    private int[] IdleFor(StepCost[] costs, IReadOnlyList<bool>? live)
    {
        var alive = live?.ToArray() ?? Enumerable.Repeat(true, costs.Length).ToArray();
        var idle = ZeroShares.Idle(costs, alive, Estimates.StepRows, Current?.Idle);
        return Enumerable.Range(0, idle.Length).Where(i => idle[i]).ToArray();
    }

    /// <summary>
    /// Publishes the assignment for <paramref name="measured"/> speeds, by default those of the last few reports
    /// (<see cref="SpeedEstimates.Recent"/>), which the drift was judged on.
    /// </summary>
    private IGradientCode Publish(long openStep, string why, IReadOnlyList<bool>? live, double[]? measured = null)
    {
        var speeds = WorkerSpeeds.Clamp(measured ?? Estimates.Recent(), _log);
        // The costs the zero shares were judged on go into the log: whether a slow worker kept rows is otherwise unexplained.
        var costs = ZeroSharesAllowed && Current is not null ? CostsAt(speeds) : null;
        var idle = costs is null ? [] : IdleFor(costs, live);
        var next = new WorkAssignment((Current?.Version ?? 0) + 1, openStep, speeds, 0) { Idle = idle };
        var code = _job.Mode.Assignment(_job, next.Shares());
        double moved = Code is null ? 0 : DataMovement.Fraction(Code, code);
        Current = next with { MovedFraction = moved };
        Code = code;
        _fromSteps.Add(openStep);
        if (_fromSteps.Count > KeptFromSteps) _fromSteps.RemoveAt(0);
        Estimates.MarkVersion();
        _drift.Reset();
        _offset.Clear();
        _payoff.Switched(openStep);
        _live = ZeroSharesAllowed ? live?.ToArray() ?? Enumerable.Repeat(true, speeds.Length).ToArray() : null;
        _log.Information("Assignment version {Version} from step {Step} ({Why}): speeds {Speeds} rows/s, zero shares {Idle}{StepCosts:l}, {Construction}; moves {Moved:P1} of the rows",
            Current.Version, openStep, why, speeds.Select(v => Math.Round(v, 1)).ToArray(), idle,
            costs is null ? "" : $" judged on steps of {Estimates.StepRows} rows and costs [{string.Join(", ", costs)}]", code.Construction, moved);
        return code;
    }
}
