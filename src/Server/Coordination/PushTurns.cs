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
/// (<see cref="Complete"/>) or the edge it came through is done (<see cref="PushTurnLease"/>), or when no push is sent
/// under it for <see cref="Expiry"/> (a worker that died between its grant and its first byte). Turns and waiting
/// requests are each their own: a worker's pushes of several partitions or units, and its concurrent requests, never
/// share or displace one another.
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
/// <para><b>Per-push updates</b> (ASP, SSP: <c>perPush</c>). There are no steps to deal: a turn is a worker's next
/// push, and turns go by round (<see cref="TurnRounds"/>: its clock, then its place in the order), so each push is
/// applied as it arrives while the next workers take their turns. A worker ahead of the others waits for the round
/// behind it; one that is late or dead there is passed after the pass bound, as above, and not waited for again until
/// it asks. The SSP bound stays the shard's (a worker too far ahead is held at its pull, before it asks).</para>
/// <para>The pass bound and the expiry follow the turns measured in the step before (a quarter of the median turn,
/// 2–50 ms; eight medians, at least 2 s), with per-push updates in the last round of n turns; 20 ms and 2 s before any
/// was measured.</para>
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
    private readonly Dictionary<long, Waiter> _waiting = [];   // by the request's ticket
    private readonly List<Turn> _held = [];
    private readonly Dictionary<TurnKey, long> _lapsed = [];   // this step's planned turns that expired before their first byte: when granted
    private readonly List<double> _durations = [];   // seconds of this step's completed planned turns
    private readonly TurnRounds? _rounds;   // per-push updates: turns by round, no deal per step
    private TaskCompletionSource _changed = NewSignal();
    private long _step = -1, _freedAt, _arrivals, _ids;
    private int _orphans;   // pushes still sent under a turn that ended

    /// <summary>Turns for <paramref name="workers"/> workers over <paramref name="units"/> units a step, <paramref name="concurrency"/> at a time.</summary>
    /// <param name="workers">n: the job's workers.</param>
    /// <param name="units">Turns per worker and step: the shard's closing ranges, or 1 when it closes whole steps.</param>
    /// <param name="concurrency">Pushes that may hold a turn at once; at least 1.</param>
    /// <param name="time">The clock of the pass bound and the expiry.</param>
    /// <param name="perPush">Every push is applied on arrival (ASP, SSP): turns by round, one unit.</param>
    public PushTurns(int workers, int units, int concurrency, TimeProvider time, bool perPush = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        if (perPush && units != 1) throw new ArgumentOutOfRangeException(nameof(units), units, "per-push turns are of whole pushes");
        (_workers, _units, _concurrency, _time) = (workers, units, concurrency, time);
        _rounds = perPush ? new TurnRounds(workers) : null;
        _rank = Enumerable.Range(0, workers).ToArray();
        _live = new bool[workers];
        _late = new bool[workers];
        _entries = new EntryState[workers * units];
        _freedAt = time.GetTimestamp();
    }

    /// <summary>How long a free turn waits for an absent worker ahead in the order before it goes to the next one waiting.</summary>
    public TimeSpan PassAfter { get; private set; } = DefaultPassAfter;

    /// <summary>How long a turn counts while no push is sent under it.</summary>
    public TimeSpan Expiry { get; private set; } = MinExpiry;

    /// <summary>Pushes holding a turn now.</summary>
    public int InFlight { get { lock (_gate) return _held.Count; } }

    /// <summary>Requests waiting for a turn now.</summary>
    public int Waiting { get { lock (_gate) return _waiting.Count; } }

    /// <summary>
    /// The most pushes that ever were on the link at once: the turns held, and any push an edge still sent after its turn
    /// ended. Above the concurrency only if a push went on without a turn of its own.
    /// </summary>
    public int Peak { get; private set; }

    /// <summary>Turns granted so far.</summary>
    public long Granted { get; private set; }

    /// <summary>Planned turns passed on because their worker had not asked within <see cref="PassAfter"/>.</summary>
    public long Passed { get; private set; }

    /// <summary>
    /// Asks for the turn of <paramref name="key"/>'s push, of the step the shard is dealing (a newer step starts a new
    /// deal). Granted at once when that push already holds its turn (a retried call, the next piece of a push gathered
    /// whole); a push of another partition or unit of the same worker and step has a turn of its own. Otherwise the caller
    /// waits for <paramref name="changed"/> or <paramref name="recheck"/> and asks again with the same
    /// <paramref name="ticket"/>, or calls <see cref="GiveUp"/> with it.
    /// </summary>
    /// <param name="key">The push: its worker, step (never older than the last step asked for: the shard answers those
    /// itself), unit (0 for a whole push, the range for a piece on a shard that closes per range) and partition.</param>
    /// <param name="order">The worker's place in the coordinator's order; negative: as last told.</param>
    /// <param name="sending">The caller is the edge the push's bytes come through: the turn is held for as long as it
    /// sends (<see cref="PushTurnLease"/>), and never expires meanwhile.</param>
    /// <param name="ticket">0 on a request's first ask; then the request's own ticket while it waits; once granted, the
    /// turn's id (<see cref="End"/>).</param>
    /// <param name="changed">Completes when a turn frees or the order moves.</param>
    /// <param name="recheck">When to ask again even without a signal (a pass bound or an expiry falls due).</param>
    public TurnAnswer TryBegin(in TurnKey key, int order, bool sending, ref long ticket, out Task changed, out TimeSpan recheck)
    {
        int worker = key.Worker;
        ArgumentOutOfRangeException.ThrowIfNegative(worker);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(worker, _workers);
        lock (_gate)
        {
            (changed, recheck) = (Task.CompletedTask, TimeSpan.Zero);
            long now = _time.GetTimestamp();
            if (_rounds is null && key.Step > _step) Deal(key.Step, now);
            if (order >= 0 && order < _workers) _rank[worker] = order;
            var k = key;
            int held = _held.FindIndex(t => t.Key == k);
            if (held >= 0)
            {
                if (ticket != 0 && _waiting.Remove(ticket)) Wake();
                _held[held] = _held[held] with { Active = now, Senders = _held[held].Senders + (sending ? 1 : 0), Started = _held[held].Started || sending };
                ticket = _held[held].Id;
                return TurnAnswer.Granted;
            }
            if (ticket == 0 || !_waiting.TryGetValue(ticket, out var me))
            {
                if (ticket == 0) ticket = ++_ids;
                _rounds?.Asked(worker, key.Step);
                bool planned = _rounds is not null || key.Unit < _units && _entries[Index(key.Unit, worker)] != EntryState.Given;
                _waiting[ticket] = me = new Waiter(ticket, key.Step, planned ? Position(key.Unit, worker, key.Step) : Extra + _arrivals, now);
                _arrivals++;
            }
            _late[worker] = false;   // present now: its open turns are ahead of the ones after it
            Expire(now);
            changed = _changed.Task;
            if (_held.Count >= _concurrency)
            {
                // Only turns whose push is not being sent can expire; the others end with their push's call.
                recheck = _held.Where(t => t.Senders == 0).Select(t => Expiry - _time.GetElapsedTime(t.Active, now)).DefaultIfEmpty(Expiry).Min();
                return TurnAnswer.Wait;
            }
            // The first waiting in the order takes a free turn; the others wait for the next (they were woken too).
            if (_waiting.Values.Any(w => (w.Step == me.Step || _rounds is not null) && (w.Position, w.Ticket).CompareTo((me.Position, me.Ticket)) < 0))
            {
                recheck = Expiry;
                return TurnAnswer.Wait;
            }
            var (absent, unknown) = _rounds is null ? Absent(me.Position) : AbsentInRounds(me.Position, worker);
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
                    if (_rounds is not null)
                    {
                        _rounds.Pass(index);
                        continue;
                    }
                    _entries[index] = EntryState.Passed;
                    _late[index % _workers] = true;
                }
                Passed += absent.Count;
            }
            bool plannedNow = _rounds is not null || key.Unit < _units && _entries[Index(key.Unit, worker)] != EntryState.Given;
            if (_rounds is not null) _rounds.Granted(worker, key.Step);
            else if (plannedNow) _entries[Index(key.Unit, worker)] = EntryState.Given;
            _waiting.Remove(ticket);
            // A turn that lapsed before its first byte came and is taken again is still the push's planned turn.
            long grantedAt = _lapsed.Remove(key, out long lapsedAt) ? lapsedAt : now;
            _held.Add(new Turn(ticket, key, plannedNow || grantedAt != now, grantedAt, now, sending ? 1 : 0, sending));
            Granted++;
            NotePeak();
            if (_held.Count < _concurrency && _waiting.Count > 0) Wake();   // a turn is still free for the next in order
            return TurnAnswer.Granted;
        }
    }

    /// <summary>A waiting request (<paramref name="ticket"/>) was given up (its step closed, the caller was cancelled):
    /// it holds nobody back. Another request of the same worker keeps its place.</summary>
    public void GiveUp(long ticket)
    {
        lock (_gate)
            if (_waiting.Remove(ticket)) Wake();
    }

    /// <summary>
    /// An edge's push goes on under a turn held already (asked for before its first byte): the turn of
    /// <paramref name="key"/>, or, when <paramref name="anyUnit"/> (the edge reads a piece's range only with its values),
    /// the oldest turn of its worker, step and partition that no push was sent under yet. The turn is held while the
    /// edge sends (<see cref="PushTurnLease"/>); null when none is held.
    /// </summary>
    public PushTurnLease? Claim(in TurnKey key, bool anyUnit)
    {
        lock (_gate)
        {
            var k = key;
            int held = _held.FindIndex(t => t.Key == k);
            if (held < 0 && anyUnit)
                held = _held.FindIndex(t => !t.Started && t.Key.Worker == k.Worker && t.Key.Step == k.Step && t.Key.Partition == k.Partition);
            if (held < 0) return null;
            var turn = _held[held];
            _held[held] = turn with { Active = _time.GetTimestamp(), Senders = turn.Senders + 1, Started = true };
            NotePeak();
            return new PushTurnLease(this, turn.Id);
        }
    }

    /// <summary>A granted turn's hold for the edge that asked with <c>sending</c> (<see cref="TryBegin"/>).</summary>
    public PushTurnLease Lease(long turn) => new(this, turn);

    /// <summary>
    /// The shard has the push of <paramref name="key"/> (or refused it): exactly its turn frees (none when it holds
    /// none). Idempotent.
    /// </summary>
    public void Complete(in TurnKey key)
    {
        lock (_gate)
        {
            var k = key;
            Remove(_held.FindIndex(t => t.Key == k));
        }
    }

    /// <summary>Turn <paramref name="turn"/> ends (its edge is done without the shard having the push). Idempotent.</summary>
    public void End(long turn)
    {
        lock (_gate) Remove(_held.FindIndex(t => t.Id == turn));
    }

    /// <summary>
    /// An edge stopped sending under turn <paramref name="turn"/> (every byte of its push is in, or the call ended): the
    /// turn counts from now without a sign of life. A push still sent after its turn ended stops counting in flight.
    /// </summary>
    internal void StopSending(long turn)
    {
        lock (_gate)
        {
            int held = _held.FindIndex(t => t.Id == turn);
            if (held < 0)
            {
                _orphans--;
                return;
            }
            _held[held] = _held[held] with { Senders = _held[held].Senders - 1, Active = _time.GetTimestamp() };
        }
    }

    /// <summary>Under the gate: frees the turn at <paramref name="held"/> (none when negative).</summary>
    private void Remove(int held)
    {
        if (held < 0) return;
        var turn = _held[held];
        _held.RemoveAt(held);
        long now = _time.GetTimestamp();
        if (turn.Planned && (turn.Key.Step == _step || _rounds is not null)) _durations.Add(_time.GetElapsedTime(turn.GrantedAt, now).TotalSeconds);
        if (_rounds is not null && _durations.Count >= _workers) Measure();   // a round of per-push turns
        _orphans += turn.Senders;   // pushes still sent under it: on the link without a turn
        _freedAt = now;
        Wake();
    }

    /// <summary>Under the gate: pushes on the link now are the turns held and any push still sent after its turn ended.</summary>
    private void NotePeak() => Peak = Math.Max(Peak, _held.Count + _orphans);

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
            foreach (var turn in _held.Where(t => !_live[worker] && t.Key.Worker == worker).ToList())
            {
                _held.Remove(turn);
                _orphans += turn.Senders;   // a push of it still on the link counts until its edge ends
                _freedAt = _time.GetTimestamp();
            }
            Wake();
        }
    }

    /// <summary>Starts the turns of <paramref name="step"/>: every entry open; the last step's turns set the bounds.</summary>
    private void Deal(long step, long now)
    {
        Measure();
        Array.Fill(_entries, EntryState.Open);
        Array.Fill(_late, false);
        // Requests of older steps were answered by the shard; pushes of older steps still on the link keep their turns.
        foreach (var stale in _waiting.Where(w => w.Value.Step < step).Select(w => w.Key).ToList()) _waiting.Remove(stale);
        _lapsed.Clear();
        (_step, _freedAt) = (step, now);
    }

    /// <summary>The pass bound and the expiry from the turns completed since the last measure (none: as they were).</summary>
    private void Measure()
    {
        if (_durations.Count == 0) return;
        _durations.Sort();
        double median = _durations[_durations.Count / 2];
        PassAfter = TimeSpan.FromSeconds(Math.Clamp(median / 4, 0.002, 0.05));
        Expiry = TimeSpan.FromSeconds(Math.Max(MinExpiry.TotalSeconds, 8 * median));
        _durations.Clear();
        if (_rounds is not null) _lapsed.Clear();   // no deal clears them: a lapsed turn is timed from its grant for a round at most
    }

    /// <summary>
    /// Turns stop counting once no push is sent under them for <see cref="Expiry"/> (a push granted its turn whose first
    /// byte never came, a push gathered whole whose next piece never came); a push being sent keeps its turn until its
    /// call ends. A planned turn lapsed before its first byte is still timed from its grant if taken again.
    /// </summary>
    private void Expire(long now)
    {
        // Runs at every ask, under the gate: a backward index walk, no list copy per ask.
        for (int i = _held.Count - 1; i >= 0; i--)
        {
            var turn = _held[i];
            if (turn.Senders != 0 || _time.GetElapsedTime(turn.Active, now) < Expiry) continue;
            _held.RemoveAt(i);
            if (turn.Planned && !turn.Started && (turn.Key.Step == _step || _rounds is not null)) _lapsed[turn.Key] = turn.GrantedAt;
            _freedAt = now;
        }
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
                if (_live[worker] && _entries[Index(unit, worker)] == EntryState.Open && Position(unit, worker, _step) < position)
                {
                    absent.Add(Index(unit, worker));
                    unknown |= !_late[worker];
                }
        return (absent, unknown);
    }

    /// <summary>
    /// Per-push turns: the live workers other than <paramref name="me"/> whose next turn comes before
    /// <paramref name="position"/> and who were not passed over there yet (all of them unknown late: known ones are not
    /// waited for).
    /// </summary>
    private (List<int> Absent, bool Unknown) AbsentInRounds(long position, int me)
    {
        var absent = new List<int>();
        for (int worker = 0; worker < _workers; worker++)
            if (worker != me && _live[worker] && !_rounds!.KnownLate(worker) && Position(0, worker, _rounds.Next(worker)) < position)
                absent.Add(worker);
        return (absent, absent.Count > 0);
    }

    private int Index(int unit, int worker) => unit * _workers + worker;

    /// <summary>A turn's place in the order: within the step by unit, then rank; per-push turns by the push's step (its round) first.</summary>
    private long Position(int unit, int worker, long step) =>
        (((_rounds is null ? 0 : step) * _units + unit) * _workers + _rank[worker]) * _workers + worker;

    private void Wake()
    {
        var changed = _changed;
        _changed = NewSignal();
        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private enum EntryState : byte { Open, Given, Passed }

    private readonly record struct Waiter(long Ticket, long Step, long Position, long Since);

    private readonly record struct Turn(long Id, TurnKey Key, bool Planned, long GrantedAt, long Active, int Senders, bool Started);
}
