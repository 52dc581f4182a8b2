namespace GpuPs.Server.Coordination;

/// <summary>
/// The order in which the coordinator sends a round-robin step's parameters: at most <c>concurrency</c> workers' pulls
/// are on the server's link at a time, started in the plan's order, each the moment an earlier one has been handed to the
/// socket (<see cref="End"/>). Work-conserving: a pull never waits for a timer or for a worker ahead of it that has not
/// asked yet, so the link carries pulls back to back whatever the transfers really take (a pull planned by estimated
/// times either left the link idle when the estimate was long or made pulls fight when it was short). Thread-safe.
/// </summary>
/// <remarks>
/// Only a worker's first pull of a step takes a turn; its other pulls of the step (pieces) go at once. A turn that is
/// not ended within <c>expiry</c> (the edge lost the connection mid-send, or never reports) stops counting, so a stuck
/// pull delays the others by that much at most. The turns start afresh at each <see cref="NewStep"/>.
/// </remarks>
public sealed class PullTurns
{
    private readonly object _gate = new();
    private readonly int _concurrency;
    private readonly TimeProvider _time;
    private readonly int[] _rank;
    private readonly long[] _grantedAt;     // timestamp of this step's turn; 0: none yet
    private readonly long[] _endedAt;       // timestamp the turn's last pull was handed to the socket; 0: not yet
    private readonly int[] _sending;        // pulls being sent under the turn
    private readonly bool[] _waiting;
    private readonly List<double> _gaps = [];   // seconds between back-to-back turns of this step
    private TaskCompletionSource _freed = NewSignal();
    private TimeSpan _expiry = TimeSpan.FromSeconds(1);
    private long _lastGrant;

    /// <summary>Turns for <paramref name="workers"/> workers, <paramref name="concurrency"/> at a time; no order until <see cref="NewStep"/>.</summary>
    public PullTurns(int workers, int concurrency, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        (_concurrency, _time) = (concurrency, time);
        _rank = Enumerable.Repeat(-1, workers).ToArray();
        _grantedAt = new long[workers];
        _endedAt = new long[workers];
        _sending = new int[workers];
        _waiting = new bool[workers];
    }

    /// <summary>
    /// Starts a step's turns: <paramref name="ranks"/> gives each worker's place in the order (-1: not ordered, never
    /// waits), <paramref name="expiry"/> how long a turn counts without <see cref="End"/>. Waiting pulls are woken.
    /// </summary>
    public void NewStep(IReadOnlyList<int> ranks, TimeSpan expiry)
    {
        lock (_gate)
        {
            for (int w = 0; w < _rank.Length; w++) (_rank[w], _grantedAt[w], _endedAt[w], _sending[w]) = (ranks[w], 0, 0, 0);
            (_expiry, _lastGrant) = (expiry, 0);
            _gaps.Clear();
            Wake();
        }
    }

    /// <summary>
    /// How long one pull of the step took on the link while <c>concurrency</c> shared it, as measured: the median time
    /// between turns that went back to back (the next worker was already waiting) times the concurrency. The link's
    /// own rate, not a guess: a turn ends when its bytes were handed to the socket, which a full send buffer paces at
    /// the link's rate. Null when no two turns of the step went back to back. Call before <see cref="NewStep"/>.
    /// </summary>
    public double? MeasuredPullSeconds()
    {
        lock (_gate)
        {
            if (_gaps.Count == 0) return null;
            var sorted = _gaps.Order().ToArray();
            return sorted[sorted.Length / 2] * _concurrency;
        }
    }

    /// <summary>
    /// Whether <paramref name="worker"/>'s pull may be sent now (it then holds a turn until <see cref="End"/>); when not,
    /// <paramref name="changed"/> completes when a turn frees and <paramref name="recheck"/> is when the oldest turn expires.
    /// A caller that stops waiting calls <see cref="GiveUp"/>.
    /// </summary>
    public bool TryBegin(int worker, out Task changed, out TimeSpan recheck)
    {
        lock (_gate)
        {
            (changed, recheck) = (Task.CompletedTask, TimeSpan.Zero);
            if (_rank[worker] < 0 || _grantedAt[worker] != 0)
            {
                if (_grantedAt[worker] != 0) _sending[worker]++;
                return true;
            }
            long now = _time.GetTimestamp();
            int holding = 0;
            var oldest = TimeSpan.MaxValue;
            bool aheadWaits = false;
            for (int w = 0; w < _rank.Length; w++)
            {
                aheadWaits |= _waiting[w] && _grantedAt[w] == 0 && _rank[w] >= 0 && _rank[w] < _rank[worker];
                if (_sending[w] == 0) continue;
                var left = _expiry - _time.GetElapsedTime(_grantedAt[w], now);
                if (left <= TimeSpan.Zero) continue;
                holding++;
                if (left < oldest) oldest = left;
            }
            if (holding < _concurrency && !aheadWaits)
            {
                if (_waiting[worker] && _lastGrant != 0) _gaps.Add(_time.GetElapsedTime(_lastGrant, now).TotalSeconds);
                (_grantedAt[worker], _sending[worker], _waiting[worker], _lastGrant) = (now, 1, false, now);
                if (holding + 1 < _concurrency && Array.IndexOf(_waiting, true) >= 0) Wake();   // a turn is still free for the next in order
                return true;
            }
            // Refused: every turn is held, or a worker ahead waits (it was woken by the turn that freed and takes it next).
            _waiting[worker] = true;
            (changed, recheck) = (_freed.Task, holding < _concurrency ? _expiry : oldest);
            return false;
        }
    }

    /// <summary>A waiting pull was given up (its caller was cancelled): it no longer holds back the workers after it.</summary>
    public void GiveUp(int worker)
    {
        lock (_gate)
        {
            if (!_waiting[worker]) return;
            _waiting[worker] = false;
            Wake();
        }
    }

    /// <summary>A pull of <paramref name="worker"/> has been handed to the socket (or failed): its turn frees when it was the last.</summary>
    public void End(int worker)
    {
        lock (_gate)
        {
            if (_sending[worker] == 0) return;
            if (--_sending[worker] > 0) return;
            _endedAt[worker] = _time.GetTimestamp();
            Wake();
        }
    }

    /// <summary>
    /// When <paramref name="worker"/>'s turn of the current step started and when its pull was handed to the socket
    /// (timestamps of the clock); null: not yet.
    /// </summary>
    public (long? Started, long? Sent) Times(int worker)
    {
        lock (_gate) return (_grantedAt[worker] != 0 ? _grantedAt[worker] : null, _endedAt[worker] != 0 ? _endedAt[worker] : null);
    }

    private void Wake()
    {
        var freed = _freed;
        _freed = NewSignal();
        freed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
