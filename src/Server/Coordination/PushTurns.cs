using GpuPs.Server.Observers;

namespace GpuPs.Server.Coordination;

/// <summary>What a request for a push turn got (<see cref="PushTurns.TryBegin"/>).</summary>
public enum TurnAnswer
{
    /// <summary>The push may be sent now; it holds a turn until <see cref="PushTurns.Complete"/>.</summary>
    Granted,

    /// <summary>Not yet: wait for the signal or the recheck time, then ask again.</summary>
    Wait,
}

/// <summary>
/// Strict round-robin push turns on one shard's link (R2SP): at most <c>concurrency</c> pushes hold a turn at a time,
/// and turns go in the planned order, not by clock. A step's turns are one per live worker and unit, ordered by unit,
/// then by the worker's place in the coordinator's order (its <c>PushSlot.order</c>; its id until told): a unit is the
/// whole push, or, on a shard that closes per range, one range, so every worker's piece of range r goes before any
/// piece of range r + 1 and ranges close one after another. A turn ends when the shard has the push
/// (<see cref="Complete"/>), or when it shows no sign of life for <see cref="Expiry"/> (a sender that died mid-push).
/// Thread-safe.
/// </summary>
/// <remarks>
/// <para><b>Late and dead workers.</b> When a turn is free and the next worker in the order has not asked, the first
/// waiting worker after it gets the turn once it has waited <see cref="PassAfter"/>: the absent turns before it are
/// passed. A passed worker that then asks is ahead of everyone still waiting, so it pushes at the next free turn.
/// Evicted (and never registered) workers are not waited for at all.</para>
/// <para><b>Extra pushes.</b> A request whose turn of the step was already given (a worker's second message of a step in
/// multi-message, a retried push the shard took before) waits behind every planned turn not yet given or passed, and
/// then takes the next free turn: it still never makes more than <c>concurrency</c> in flight.</para>
/// <para>The pass bound and the expiry follow the turns measured in the step before (a quarter of the median turn,
/// 2–50 ms; eight medians, at least 2 s); 20 ms and 2 s before any was measured.</para>
/// </remarks>
public sealed class PushTurns : IShardObserver
{
    /// <summary>The pass bound before any turn was measured.</summary>
    public static readonly TimeSpan DefaultPassAfter = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan MinExpiry = TimeSpan.FromSeconds(2);
    private const long Extra = long.MaxValue / 2;

    private readonly object _gate = new();
    private readonly int _workers, _units, _concurrency;
    private readonly TimeProvider _time;
    private readonly int[] _rank;
    private readonly bool[] _live;
    private readonly bool[] _late;             // passed this step and not asked since
    private readonly EntryState[] _entries;   // [unit * workers + worker] of the step being dealt
    private readonly Dictionary<int, Waiter> _waiting = [];
    private readonly List<Turn> _held = [];
    private readonly List<double> _durations = [];   // seconds of this step's completed planned turns
    private TaskCompletionSource _changed = NewSignal();
    private long _step = -1, _freedAt, _arrivals;

    /// <summary>Turns for <paramref name="workers"/> workers over <paramref name="units"/> units a step, <paramref name="concurrency"/> at a time.</summary>
    /// <param name="workers">n: the job's workers.</param>
    /// <param name="units">Turns per worker and step: the shard's closing ranges, or 1 when it closes whole steps.</param>
    /// <param name="concurrency">Pushes that may hold a turn at once; at least 1.</param>
    /// <param name="time">The clock of the pass bound and the expiry.</param>
    public PushTurns(int workers, int units, int concurrency, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        (_workers, _units, _concurrency, _time) = (workers, units, concurrency, time);
        _rank = Enumerable.Range(0, workers).ToArray();
        _live = new bool[workers];
        _late = new bool[workers];
        _entries = new EntryState[workers * units];
        _freedAt = time.GetTimestamp();
    }

    /// <summary>How long a free turn waits for an absent worker ahead in the order before it goes to the next one waiting.</summary>
    public TimeSpan PassAfter { get; private set; } = DefaultPassAfter;

    /// <summary>How long a turn counts without a sign of life from its push.</summary>
    public TimeSpan Expiry { get; private set; } = MinExpiry;

    /// <summary>Pushes holding a turn now.</summary>
    public int InFlight { get { lock (_gate) return _held.Count; } }

    /// <summary>Requests waiting for a turn now.</summary>
    public int Waiting { get { lock (_gate) return _waiting.Count; } }

    /// <summary>The most pushes that ever held a turn at once: never above the concurrency.</summary>
    public int Peak { get; private set; }

    /// <summary>Turns granted so far.</summary>
    public long Granted { get; private set; }

    /// <summary>Planned turns passed on because their worker had not asked within <see cref="PassAfter"/>.</summary>
    public long Passed { get; private set; }

    /// <summary>
    /// Asks for <paramref name="worker"/>'s turn for <paramref name="unit"/> of <paramref name="step"/>, the step the shard
    /// is dealing (a newer step starts a new deal). Granted at once when the worker already holds that turn (a retried
    /// call, the next piece of a push gathered whole). Otherwise the caller waits for <paramref name="changed"/> or
    /// <paramref name="recheck"/> and asks again, or calls <see cref="GiveUp"/>.
    /// </summary>
    /// <param name="worker">The worker.</param>
    /// <param name="step">The push's step; never older than the last step asked for (the shard answers those itself).</param>
    /// <param name="unit">0 for a whole push, the range for a piece on a shard that closes per range.</param>
    /// <param name="order">The worker's place in the coordinator's order; negative: as last told.</param>
    /// <param name="changed">Completes when a turn frees or the order moves.</param>
    /// <param name="recheck">When to ask again even without a signal (a pass bound or an expiry falls due).</param>
    public TurnAnswer TryBegin(int worker, long step, int unit, int order, out Task changed, out TimeSpan recheck)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(worker);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(worker, _workers);
        lock (_gate)
        {
            (changed, recheck) = (Task.CompletedTask, TimeSpan.Zero);
            long now = _time.GetTimestamp();
            if (step > _step) Deal(step, now);
            if (order >= 0 && order < _workers) _rank[worker] = order;
            int held = _held.FindIndex(t => t.Worker == worker && t.Step == step && t.Unit == unit);
            if (held >= 0)
            {
                _held[held] = _held[held] with { Active = now };
                return TurnAnswer.Granted;
            }
            bool planned = unit < _units && _entries[Index(unit, worker)] != EntryState.Given;
            long position = planned ? Position(unit, worker) : Extra + _arrivals;
            if (!_waiting.TryGetValue(worker, out var me) || me.Step != step || me.Unit != unit)
                _waiting[worker] = me = new Waiter(step, unit, position, now);
            _arrivals++;
            _late[worker] = false;   // present now: its open turns are ahead of the ones after it
            Expire(now);
            changed = _changed.Task;
            if (_held.Count >= _concurrency)
            {
                recheck = _held.Min(t => Expiry - _time.GetElapsedTime(t.Active, now));
                return TurnAnswer.Wait;
            }
            // The first waiting in the order takes a free turn; the others wait for the next (they were woken too).
            if (_waiting.Values.Any(w => w.Step == step && w.Position < me.Position))
            {
                recheck = Expiry;
                return TurnAnswer.Wait;
            }
            var (absent, unknown) = Absent(me.Position);
            if (absent.Count > 0)
            {
                // A worker passed once this step is known late: its later turns are passed without waiting again.
                var waited = _time.GetElapsedTime(Math.Max(_freedAt, me.Since), now);
                if (unknown && waited < PassAfter)
                {
                    recheck = PassAfter - waited;
                    return TurnAnswer.Wait;
                }
                foreach (int index in absent)
                {
                    _entries[index] = EntryState.Passed;
                    _late[index % _workers] = true;
                }
                Passed += absent.Count;
            }
            if (planned) _entries[Index(unit, worker)] = EntryState.Given;
            _waiting.Remove(worker);
            _held.Add(new Turn(worker, step, unit, planned, now, now));
            Granted++;
            Peak = Math.Max(Peak, _held.Count);
            if (_held.Count < _concurrency && _waiting.Count > 0) Wake();   // a turn is still free for the next in order
            return TurnAnswer.Granted;
        }
    }

    /// <summary>A waiting request was given up (its step closed, the caller was cancelled): it holds nobody back.</summary>
    public void GiveUp(int worker)
    {
        lock (_gate)
            if (_waiting.Remove(worker)) Wake();
    }

    /// <summary>
    /// Whether <paramref name="worker"/> holds a turn of <paramref name="step"/> now (a sign of life for it): a push that
    /// reaches the shard's edge then goes on under it. The framed data plane reads a piece's range with its values, after
    /// the edge asks.
    /// </summary>
    public bool Holds(int worker, long step)
    {
        lock (_gate)
        {
            int held = _held.FindIndex(t => t.Worker == worker && t.Step == step);
            if (held >= 0) _held[held] = _held[held] with { Active = _time.GetTimestamp() };
            return held >= 0;
        }
    }

    /// <summary>
    /// The shard has <paramref name="worker"/>'s push for <paramref name="unit"/> of <paramref name="step"/> (or refused
    /// it): its turn frees — that unit's, else the worker's oldest turn of the step (a turn the edge took for a piece
    /// before its range was read). Idempotent.
    /// </summary>
    public void Complete(int worker, long step, int unit)
    {
        lock (_gate)
        {
            int held = _held.FindIndex(t => t.Worker == worker && t.Step == step && t.Unit == unit);
            if (held < 0) held = _held.FindIndex(t => t.Worker == worker && t.Step == step);
            if (held < 0) return;
            var turn = _held[held];
            _held.RemoveAt(held);
            long now = _time.GetTimestamp();
            if (turn.Planned && turn.Step == _step) _durations.Add(_time.GetElapsedTime(turn.GrantedAt, now).TotalSeconds);
            _freedAt = now;
            Wake();
        }
    }

    /// <inheritdoc />
    /// <remarks>Evicted workers are not waited for, and a turn one held frees at once; a worker that registers or rejoins
    /// is waited for.</remarks>
    public void OnMembershipChanged(in MembershipChange change)
    {
        if (change.WorkerId < 0 || change.WorkerId >= _workers) return;
        int worker = change.WorkerId;
        lock (_gate)
        {
            _live[worker] = change.Event != MembershipEvent.Evicted;
            if (!_live[worker] && _held.RemoveAll(t => t.Worker == worker) > 0) _freedAt = _time.GetTimestamp();
            Wake();
        }
    }

    /// <summary>Starts the turns of <paramref name="step"/>: every entry open; the last step's turns set the bounds.</summary>
    private void Deal(long step, long now)
    {
        if (_durations.Count > 0)
        {
            _durations.Sort();
            double median = _durations[_durations.Count / 2];
            PassAfter = TimeSpan.FromSeconds(Math.Clamp(median / 4, 0.002, 0.05));
            Expiry = TimeSpan.FromSeconds(Math.Max(MinExpiry.TotalSeconds, 8 * median));
            _durations.Clear();
        }
        Array.Fill(_entries, EntryState.Open);
        Array.Fill(_late, false);
        // Requests of older steps were answered by the shard; pushes of older steps still on the link keep their turns.
        foreach (var stale in _waiting.Where(w => w.Value.Step < step).Select(w => w.Key).ToList()) _waiting.Remove(stale);
        (_step, _freedAt) = (step, now);
    }

    /// <summary>Turns stop counting once their push shows no sign of life for <see cref="Expiry"/>.</summary>
    private void Expire(long now)
    {
        if (_held.RemoveAll(t => _time.GetElapsedTime(t.Active, now) >= Expiry) > 0) _freedAt = now;
    }

    /// <summary>
    /// The open entries of live workers that come before <paramref name="position"/> in the order, and whether any of
    /// them is of a worker not yet known late this step.
    /// </summary>
    private (List<int> Absent, bool Unknown) Absent(long position)
    {
        var absent = new List<int>();
        bool unknown = false;
        for (int unit = 0; unit < _units; unit++)
            for (int worker = 0; worker < _workers; worker++)
                if (_live[worker] && _entries[Index(unit, worker)] == EntryState.Open && Position(unit, worker) < position)
                {
                    absent.Add(Index(unit, worker));
                    unknown |= !_late[worker];
                }
        return (absent, unknown);
    }

    private int Index(int unit, int worker) => unit * _workers + worker;

    private long Position(int unit, int worker) => ((long)unit * _workers + _rank[worker]) * _workers + worker;

    private void Wake()
    {
        var changed = _changed;
        _changed = NewSignal();
        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private enum EntryState : byte { Open, Given, Passed }

    private readonly record struct Waiter(long Step, int Unit, long Position, long Since);

    private readonly record struct Turn(int Worker, long Step, int Unit, bool Planned, long GrantedAt, long Active);
}
