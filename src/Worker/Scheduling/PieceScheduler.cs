namespace GpuPs.Worker.Scheduling;

/// <summary>What happened to one piece transfer on a link, with the link's bytes in flight right after it.</summary>
/// <param name="Started">True when the piece was sent, false when its transfer ended (answered, failed or cancelled).</param>
/// <param name="Layer">The piece's layer (its priority).</param>
/// <param name="Step">The step the piece belongs to.</param>
/// <param name="Bytes">The piece's bytes on the wire.</param>
/// <param name="InFlightBytes">Bytes of the link's transfers started and not yet ended, this one counted when started.</param>
/// <param name="CreditBytes">The credit in force.</param>
public readonly record struct PieceEvent(bool Started, int Layer, long Step, long Bytes, long InFlightBytes, long CreditBytes);

/// <summary>
/// One link's sender (worker → shard pushes, or shard → worker pulls): runs piece transfers in priority order with at
/// most <see cref="CreditBytes"/> bytes in flight (ByteScheduler's credit-based preemption). A piece waits in a priority
/// queue until the credit has room for it; when a transfer ends, the queue's best pieces start, so a higher-priority
/// piece enqueued later (the next step's first layer) overtakes the lower-priority pieces still waiting, while pieces
/// already on the wire are never interrupted (preemption between pieces).
/// </summary>
/// <remarks>
/// <para><b>Priority.</b> Lower first: the piece's layer (the next forward pass needs layer 0 first), then its step
/// (older first), then the order pieces were enqueued in (key order within a tensor).</para>
/// <para><b>Credit.</b> A piece starts when the bytes in flight plus its own fit in the credit, or when nothing is in
/// flight (so a piece larger than the credit still goes, alone). The credit may change at any time (auto-tuning); it
/// applies to the next piece started. At most <see cref="MaxPiecesInFlight"/> pieces are in flight whatever the credit:
/// every piece on the wire holds a connection of its own (the data plane opens them on demand), and a credit tuned on a
/// loaded link grew to hundreds of small pieces, whose connections, over 16 workers, passed the server's
/// <c>--max-connections</c> and were closed on accept.</para>
/// <para><b>Cancellation.</b> A piece cancelled while queued never starts; one cancelled on the wire is cancelled by its
/// transfer. Either way its task is cancelled and its credit returned. A piece's task completes only once its credit is
/// back, so whoever awaited it sees the link without it.</para>
/// Thread-safe.
/// </remarks>
public sealed class PieceScheduler
{
    /// <summary>Most pieces on the wire at once on one link, whatever the credit: 8.</summary>
    public const int MaxPiecesInFlight = 8;

    private readonly object _gate = new();
    private readonly PriorityQueue<Pending, (int Layer, long Step, long Sequence)> _queue = new();
    private readonly CreditTuner? _tuner;
    private long _creditBytes;
    private long _inFlight;
    private int _piecesInFlight;
    private long _sequence;

    /// <summary>A scheduler with a fixed credit of <paramref name="creditBytes"/>, or, with a tuner, the tuner's credit, adjusted as transfers end.</summary>
    /// <param name="creditBytes">Bytes allowed in flight, ≥ 1 (the tuner's starting credit when it has one).</param>
    /// <param name="tuner">Learns the link's rate and round trip from the transfers and sets the credit; null: fixed.</param>
    public PieceScheduler(long creditBytes, CreditTuner? tuner = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(creditBytes, 1);
        (_creditBytes, _tuner) = (creditBytes, tuner);
    }

    /// <summary>Hears every start and end of a transfer, under the scheduler's lock, in order: keep it short.</summary>
    public Action<PieceEvent>? Observer { get; init; }

    /// <summary>Bytes allowed in flight now.</summary>
    public long CreditBytes
    {
        get => Interlocked.Read(ref _creditBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Interlocked.Exchange(ref _creditBytes, value);
            Pump();
        }
    }

    /// <summary>Bytes of transfers started and not yet ended.</summary>
    public long InFlightBytes
    {
        get { lock (_gate) return _inFlight; }
    }

    /// <summary>The tuner, when the credit is tuned.</summary>
    public CreditTuner? Tuner => _tuner;

    /// <summary>
    /// Queues one piece transfer and returns its result once it ran: <paramref name="transfer"/> is started when the
    /// piece's turn comes (priority, then credit) with <paramref name="cancellationToken"/>.
    /// </summary>
    /// <param name="layer">The piece's layer: lower goes first.</param>
    /// <param name="step">The piece's step: among equal layers, older goes first.</param>
    /// <param name="bytes">The piece's bytes on the wire (what it takes of the credit), ≥ 0.</param>
    /// <param name="transfer">Sends the piece and returns its answer.</param>
    /// <param name="cancellationToken">Cancels the piece, queued or on the wire.</param>
    public Task<T> RunAsync<T>(int layer, long step, long bytes, Func<CancellationToken, Task<T>> transfer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var pending = new Pending<T>(this, layer, step, bytes, transfer, cancellationToken);
        pending.WatchCancellation();
        lock (_gate) _queue.Enqueue(pending, (layer, step, _sequence++));
        Pump();
        return pending.Task;
    }

    /// <summary>Starts every queued piece that fits, best first; drops the cancelled ones at the head.</summary>
    private void Pump()
    {
        List<Pending>? start = null;
        lock (_gate)
        {
            while (_queue.TryPeek(out var next, out _))
            {
                if (next.IsCancelled)
                {
                    _queue.Dequeue();
                    continue;
                }
                if (_inFlight > 0 && (_inFlight + next.Bytes > CreditBytes || _piecesInFlight >= MaxPiecesInFlight)) break;
                _queue.Dequeue();
                _inFlight += next.Bytes;
                _piecesInFlight++;
                Observer?.Invoke(new PieceEvent(true, next.Layer, next.Step, next.Bytes, _inFlight, CreditBytes));
                _tuner?.Started();
                (start ??= []).Add(next);
            }
        }
        if (start is null) return;
        foreach (var pending in start) pending.Start();
    }

    private void Ended(Pending pending, double seconds, bool succeeded)
    {
        lock (_gate)
        {
            _inFlight -= pending.Bytes;
            _piecesInFlight--;
            Observer?.Invoke(new PieceEvent(false, pending.Layer, pending.Step, pending.Bytes, _inFlight, CreditBytes));
        }
        if (_tuner?.Ended(pending.Bytes, seconds, succeeded) is { } credit) Interlocked.Exchange(ref _creditBytes, credit);
        Pump();
    }

    /// <summary>A queued piece, type-erased for the queue.</summary>
    private abstract class Pending(PieceScheduler owner, int layer, long step, long bytes)
    {
        public int Layer => layer;

        public long Step => step;

        public long Bytes => bytes;

        public abstract bool IsCancelled { get; }

        protected PieceScheduler Owner => owner;

        public abstract void Start();
    }

    private sealed class Pending<T>(PieceScheduler owner, int layer, long step, long bytes, Func<CancellationToken, Task<T>> transfer, CancellationToken ct)
        : Pending(owner, layer, step, bytes)
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenRegistration _registration;
        private int _started;

        public Task<T> Task => _done.Task;

        public override bool IsCancelled => _done.Task.IsCanceled;

        /// <summary>A piece cancelled while queued is cancelled at once; the next pump drops it.</summary>
        public void WatchCancellation() =>
            _registration = ct.Register(() =>
            {
                if (Volatile.Read(ref _started) == 0) _done.TrySetCanceled(ct);
            });

        public override void Start()
        {
            if (Interlocked.Exchange(ref _started, 1) != 0) return;
            _ = RunAsync();
        }

        private async Task RunAsync()
        {
            _registration.Dispose();
            var clock = Owner._tuner?.Time ?? TimeProvider.System;
            long began = clock.GetTimestamp();
            T? result = default;
            Exception? error = null;
            bool cancelled = false;
            try
            {
                ct.ThrowIfCancellationRequested();
                result = await transfer(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                cancelled = true;
            }
            catch (Exception e)
            {
                error = e;
            }
            // The credit is returned before the piece's task completes: whoever awaited the piece sees the link without it.
            try
            {
                Owner.Ended(this, clock.GetElapsedTime(began).TotalSeconds, succeeded: !cancelled && error is null);
            }
            finally
            {
                if (cancelled) _done.TrySetCanceled(ct);
                else if (error is not null) _done.TrySetException(error);
                else _done.TrySetResult(result!);
            }
        }
    }
}
