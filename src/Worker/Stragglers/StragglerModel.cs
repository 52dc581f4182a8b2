namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The parameters of one straggler model, as parsed from a spec (see <see cref="StragglerInjector.Parse"/>). Immutable;
/// the injector draws from it and <see cref="OrderStatisticBound"/> integrates over it.
/// </summary>
public abstract record StragglerModel;

/// <summary><c>none</c>: no injected delay, no throttling.</summary>
public sealed record NoStragglers : StragglerModel;

/// <summary>
/// <c>persistent</c>: the same <paramref name="Workers"/> are slow every step, by sleeping
/// (<paramref name="Factor"/> − 1) × load × (unit + reference compute per partition) + <paramref name="Delay"/> seconds
/// on top of their step. The reference is the worker's typical real compute (<see cref="ComputeReference"/>), so a
/// relative straggler takes <paramref name="Factor"/> × as long as it normally would; an absolute one is exactly
/// <paramref name="Delay"/> late. The spec grammar gives one of the two (factor 1 with <c>delay=</c>, delay 0 with
/// <c>factor=</c>).
/// </summary>
public sealed record PersistentStragglers(SlowWorkers Workers, double Factor, double Delay) : StragglerModel;

/// <summary><c>shifted-exponential</c>: each worker, each step, is delayed <paramref name="Shift"/> + Exp(<paramref name="Rate"/>) seconds.</summary>
public sealed record ShiftedExponentialDelay(double Shift, double Rate) : StragglerModel;

/// <summary><c>bimodal</c>: each worker, each step, is delayed <paramref name="Delay"/> seconds with probability <paramref name="P"/>, else not at all.</summary>
public sealed record BimodalDelay(double P, double Delay) : StragglerModel;

/// <summary>
/// <c>throttle</c>: <paramref name="Workers"/> really compute every gradient <paramref name="Factor"/> times (no sleep),
/// i.e. they get a throttled share of the real machine.
/// </summary>
public sealed record ThrottledWorkers(SlowWorkers Workers, int Factor) : StragglerModel;

/// <summary>
/// <c>slowdown</c>: a cluster of mixed speeds from real work. Worker i computes every gradient
/// <paramref name="Factors"/>[i] times (1 beyond the list), so it runs at 1 / factor of its device's speed; from step
/// <paramref name="At"/> on (when &gt; 0) it uses <paramref name="Then"/>[i] instead, as when a co-tenant arrives.
/// Worker <paramref name="Late"/> (−1: none) is moreover exactly <paramref name="Delay"/> seconds late every step: a
/// straggler on top of the heterogeneity.
/// </summary>
public sealed record MixedSpeeds(int[] Factors, long At, int[] Then, int Late, double Delay) : StragglerModel;
