namespace GpuPs.Worker.Stragglers;

/// <summary>
/// Seeded, reproducible straggler injection for benchmarks and tests.
/// <para>
/// Time model: in one step a worker holding <c>load</c> data partitions spends, per partition, its real gradient compute
/// plus a simulated compute <see cref="Unit"/> (a sleep, so that the cost of holding s + 1 partitions is visible even on
/// a 2-core machine running 8 workers) plus its injected delay for the step spread evenly over its partitions
/// (delay / load each: a slow-but-alive worker is slow on every partition, so multi-message partial work still arrives).
/// Hence T_i = load × (unit + compute) + delay_i, where delay_i is <see cref="StepDelay"/>.
/// </para>
/// <para>
/// Every random draw is a pure function of (seed, worker, step) and the chosen slow workers are fixed at construction,
/// so results do not depend on thread timing or call order. Immutable, hence thread-safe: one injector is shared by all
/// workers of an in-process cluster.
/// </para>
/// </summary>
public sealed class StragglerInjector
{
    private readonly int _workers;
    private readonly ulong _seed;
    private readonly int[] _slowWorkers; // ascending; the persistent/throttle workers, empty for the other models

    private StragglerInjector(StragglerModel model, double unitSeconds, string spec, int workers, ulong seed)
    {
        Model = model;
        Unit = TimeSpan.FromSeconds(unitSeconds);
        Spec = spec;
        _workers = workers;
        _seed = seed;
        _slowWorkers = model switch
        {
            PersistentStragglers p => p.Workers.Resolve(workers, seed),
            ThrottledWorkers t => t.Workers.Resolve(workers, seed),
            _ => [],
        };
    }

    /// <summary>
    /// Parses <c>MODEL[:key=value,...]</c>, models <c>none</c>, <c>persistent:count=2,factor=10</c>,
    /// <c>shifted-exponential:shift=0.05,rate=20</c>, <c>bimodal:p=0.1,delay=0.5</c>, <c>throttle:count=2,factor=4</c>
    /// (the values shown are the defaults), each also taking <c>unit=SECONDS</c> (default 0). Persistent and throttle
    /// take <c>workers=I+J+…</c> instead of <c>count=</c> to name the slow workers; persistent takes
    /// <c>delay=SECONDS</c> (exactly that late every step) instead of <c>factor=</c> (that many times as long as usual).
    /// </summary>
    /// <param name="spec">The spec; model and key names are case-insensitive.</param>
    /// <param name="workers">Cluster size: worker ids are 0 … workers − 1, and counts may not exceed it.</param>
    /// <param name="seed">Fixes every draw and the choice of slow workers.</param>
    /// <exception cref="ArgumentException">One readable line naming the bad part and the accepted forms.</exception>
    public static StragglerInjector Parse(string spec, int workers, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        var (model, unit, normalised) = StragglerSpec.Parse(spec, workers);
        return new StragglerInjector(model, unit, normalised, workers, seed);
    }

    /// <summary>No injection and no unit, for any number of workers.</summary>
    public static StragglerInjector None { get; } = new(new NoStragglers(), 0, "none", int.MaxValue, 0);

    /// <summary>The parsed model parameters.</summary>
    public StragglerModel Model { get; }

    /// <summary>The normalised spec: parses back to an equal injector (given the same workers and seed).</summary>
    public string Spec { get; }

    /// <summary>Simulated compute per partition, slept after each partition's real compute.</summary>
    public TimeSpan Unit { get; }

    /// <summary>One line for logs and benchmark output.</summary>
    public string Describe()
    {
        var what = Model switch
        {
            PersistentStragglers { Factor: 1 } p => $"workers {SlowList()} are {StragglerSpec.Number(p.Delay)} s late every step",
            PersistentStragglers p => $"workers {SlowList()} take {StragglerSpec.Number(p.Factor)}x as long as their typical step, every step",
            ShiftedExponentialDelay e => $"every worker every step waits {StragglerSpec.Number(e.Shift)} s + Exp(rate {StragglerSpec.Number(e.Rate)}/s), "
                                         + $"mean {StragglerSpec.Number(e.Shift + 1 / e.Rate)} s",
            BimodalDelay b => $"every worker every step waits {StragglerSpec.Number(b.Delay)} s with probability {StragglerSpec.Number(b.P)}",
            ThrottledWorkers t => $"workers {SlowList()} compute every gradient {t.Factor} times (real CPU slowdown)",
            MixedSpeeds m => $"worker i computes every gradient {string.Join(":", m.Factors)} times (real CPU slowdown, speeds 1/factor)"
                             + (m.At > 0 ? $", from step {m.At} {string.Join(":", m.Then)} times" : "")
                             + (m.Late >= 0 ? $"; worker {m.Late} is {StragglerSpec.Number(m.Delay)} s late every step" : ""),
            _ => "no injected stragglers",
        };
        var unit = Unit == TimeSpan.Zero ? "" : $"; plus {StragglerSpec.Number(Unit.TotalSeconds)} s simulated compute per partition";
        return $"stragglers {Spec}: {what}{unit} (seed {_seed})";
    }

    /// <summary>True for the slow workers of <c>persistent</c> and <c>throttle</c>; false otherwise.</summary>
    public bool IsSlowWorker(int worker)
    {
        CheckWorker(worker);
        return Array.BinarySearch(_slowWorkers, worker) >= 0;
    }

    /// <summary>How many times <paramref name="worker"/> must run each partition's gradient kernel at
    /// <paramref name="step"/>: the throttle factor for throttled workers, its slowdown factor, else 1. Only the last
    /// run's result is used; the repeats are the slowdown.</summary>
    public int ComputeRepeatsAt(int worker, long step) => Model switch
    {
        ThrottledWorkers t when IsSlowWorker(worker) => t.Factor,
        MixedSpeeds m => FactorOf(m.At > 0 && step >= m.At ? m.Then : m.Factors, worker),
        _ => 1,
    };

    /// <summary><see cref="ComputeRepeatsAt"/> the first step (the same at every step for every model but a changing slowdown).</summary>
    public int ComputeRepeats(int worker) => ComputeRepeatsAt(worker, 0);

    private static int FactorOf(int[] factors, int worker) => worker < factors.Length ? factors[worker] : 1;

    /// <summary>
    /// The delay injected into <paramref name="worker"/>'s step <paramref name="step"/>, to be spread over its
    /// <paramref name="load"/> partitions by <see cref="AfterPartitionAsync"/>. Shifted exponential and bimodal draw it
    /// from (seed, worker, step); persistent gives a slow worker (factor − 1) × load × (unit + reference) + delay, so
    /// that its step takes factor × as long as usual, or exactly delay seconds longer; slowdown gives its late worker its
    /// delay; none and throttle give zero.
    /// </summary>
    /// <param name="worker">The worker id, 0 … workers − 1.</param>
    /// <param name="step">The worker's step.</param>
    /// <param name="load">Partitions the worker holds; at least 1.</param>
    /// <param name="referenceComputePerPartition">The worker's typical real gradient compute per partition
    /// (<see cref="ComputeReference.PerPartition"/>), used only by a relative persistent model.</param>
    /// <exception cref="ArgumentOutOfRangeException">Worker or load out of range, or a negative reference.</exception>
    public TimeSpan StepDelay(int worker, long step, int load, TimeSpan referenceComputePerPartition)
    {
        CheckWorker(worker);
        ArgumentOutOfRangeException.ThrowIfLessThan(load, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(referenceComputePerPartition, TimeSpan.Zero);
        var seconds = Model switch
        {
            PersistentStragglers p when IsSlowWorker(worker) =>
                (p.Factor - 1) * load * (Unit.TotalSeconds + referenceComputePerPartition.TotalSeconds) + p.Delay,
            ShiftedExponentialDelay e =>
                // 1 − u lies in (0, 1], so the logarithm is finite.
                e.Shift - Math.Log(1 - SeededDraw.Uniform(_seed, SeededDraw.Purpose.StepDelay, worker, step)) / e.Rate,
            BimodalDelay b =>
                SeededDraw.Uniform(_seed, SeededDraw.Purpose.StepDelay, worker, step) < b.P ? b.Delay : 0,
            MixedSpeeds m when m.Late == worker => m.Delay,
            _ => 0,
        };
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>
    /// T_i of the time model, in seconds: load × (unit + c × <see cref="ComputeRepeats"/>) + <see cref="StepDelay"/>, for a
    /// worker whose real compute per partition, typical and this step's alike, is <paramref name="computePerPartition"/>.
    /// </summary>
    public double ModelledStepSeconds(int worker, long step, int load, double computePerPartition)
    {
        double compute = load * computePerPartition * ComputeRepeats(worker);
        return load * Unit.TotalSeconds + compute + StepDelay(worker, step, load, TimeSpan.FromSeconds(computePerPartition)).TotalSeconds;
    }

    /// <summary>
    /// Sleeps <see cref="Unit"/> + <paramref name="stepDelay"/> / <paramref name="load"/> after one finished partition of
    /// <paramref name="worker"/>'s step <paramref name="step"/>, never shorter, sub-millisecond parts included
    /// (<see cref="PreciseDelay"/>). Cancellable: a worker abandoning a closed step stops at once (the task is cancelled,
    /// and is already cancelled if <paramref name="ct"/> was). <paramref name="time"/>: the clock that sleeps (the system
    /// clock; tests pass a manual one).
    /// </summary>
    public Task AfterPartitionAsync(int worker, long step, int load, TimeSpan stepDelay, CancellationToken ct, TimeProvider? time = null)
    {
        CheckWorker(worker);
        ArgumentOutOfRangeException.ThrowIfLessThan(load, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepDelay, TimeSpan.Zero);
        return PreciseDelay.WaitAsync(Unit + stepDelay / load, ct, time);
    }

    private string SlowList() => $"[{string.Join(", ", _slowWorkers)}] of {_workers}";

    private void CheckWorker(int worker)
    {
        if ((uint)worker >= (uint)_workers)
            throw new ArgumentOutOfRangeException(nameof(worker), worker, $"worker ids are 0 … {_workers - 1}");
    }
}
