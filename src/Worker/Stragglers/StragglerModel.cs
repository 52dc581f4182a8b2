namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The parameters of one straggler model, as parsed from a spec (see <see cref="StragglerInjector.Parse"/>). Immutable;
/// the injector draws from it and <see cref="OrderStatisticBound"/> integrates over it.
/// </summary>
public abstract record StragglerModel;

/// <summary><c>none</c>: no injected delay, no throttling.</summary>
public sealed record NoStragglers : StragglerModel;

/// <summary>
/// <c>persistent</c>: <paramref name="Count"/> seeded-chosen workers take <paramref name="Factor"/> times as long as
/// they otherwise would, every step (their simulated unit included), by sleeping the difference.
/// </summary>
public sealed record PersistentStragglers(int Count, double Factor) : StragglerModel;

/// <summary><c>shifted-exponential</c>: each worker, each step, is delayed <paramref name="Shift"/> + Exp(<paramref name="Rate"/>) seconds.</summary>
public sealed record ShiftedExponentialDelay(double Shift, double Rate) : StragglerModel;

/// <summary><c>bimodal</c>: each worker, each step, is delayed <paramref name="Delay"/> seconds with probability <paramref name="P"/>, else not at all.</summary>
public sealed record BimodalDelay(double P, double Delay) : StragglerModel;

/// <summary>
/// <c>throttle</c>: <paramref name="Count"/> seeded-chosen workers really compute every gradient <paramref name="Factor"/>
/// times (no sleep), i.e. they get a throttled share of the real machine.
/// </summary>
public sealed record ThrottledWorkers(int Count, int Factor) : StragglerModel;
