using System.Diagnostics;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using Serilog;

namespace GpuPs.Worker.Scheduling;

/// <summary>
/// A worker's side of the round-robin schedule: measures how long the gradient took to be ready, is told how long its
/// pushes took from the first byte (the push's own wait for its turns, its <see cref="TurnWait"/>, is not in
/// it), and reports both to the coordinator (shard 0) after the step, whose reply carries the worker's slot: its place in
/// the order every shard grants push turns in (<see cref="ShardedParameterClient.PushOrder"/>). Pushes wait for their
/// turns, never for a clock. One per worker loop; not thread-safe except that a report's reply may land at any time (the
/// slot is swapped atomically, newest version wins).
/// </summary>
public sealed class PushPacer(ShardedParameterClient client, WorkerReport report, ILogger log)
{
    private readonly object _gate = new();   // per-partition pushes of one step end concurrently
    private PushSlot _slot = new();
    private PushSlot _stepSlot = new();   // the slot the step's report names (its version scales the first plan)
    private long _stepStart;
    private double _ready, _pushSeconds;
    private long _step;
    private bool _reported;
    private CancellationToken _stopped;
    private Task _report = Task.CompletedTask;

    /// <summary>The newest slot the coordinator gave this worker (version 0: none yet).</summary>
    public PushSlot Slot => Volatile.Read(ref _slot);

    /// <summary>Starts a step: its parameters just arrived. The step keeps the slot known now.</summary>
    /// <param name="step">The step.</param>
    /// <param name="stopped">Cancels the step's report to the coordinator (the worker stops).</param>
    public void BeginStep(long step, CancellationToken stopped)
    {
        _step = step;
        _stopped = stopped;
        _stepStart = Stopwatch.GetTimestamp();
        _stepSlot = Slot;
        (_ready, _pushSeconds, _reported) = (-1, 0, false);
    }

    /// <summary>A push of the step starts: the first one marks when the gradient was ready. Thread-safe.</summary>
    public void Pushing()
    {
        lock (_gate) if (_ready < 0) _ready = Stopwatch.GetElapsedTime(_stepStart).TotalSeconds;
    }

    /// <summary>
    /// Adds a push's own time to the step's: from its first byte until the shards answered it, without its waits for
    /// turns or, for a fused push, the wait of the pull that rides on it for its step (which SSP holds for the slowest
    /// worker: no time on the link). Thread-safe.
    /// </summary>
    /// <param name="seconds">The push's latency, as the worker's report records it.</param>
    public void Pushed(double seconds)
    {
        lock (_gate) _pushSeconds += seconds;
    }

    /// <summary>
    /// Ends a step (its pushes completed, or it closed without this worker): reports its times, as far as it got, to the
    /// coordinator in the background, and learns its slot from the reply — a worker the steps always close without
    /// still learns one. One report at a time; a step whose report would overlap the previous one is not reported. A
    /// failed report keeps the slot.
    /// </summary>
    public void EndStep()
    {
        lock (_gate)
        {
            if (_reported || !_report.IsCompleted) return;
            _reported = true;
            var request = new HeartbeatRequest { Step = _step, SlotVersion = _stepSlot.Version };
            if (_ready >= 0) (request.ComputeSeconds, request.PushSeconds) = (_ready, _pushSeconds);
            _report = ReportAsync(request, _stopped);
        }
    }

    private async Task ReportAsync(HeartbeatRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await client.ReportToCoordinatorAsync(request, cancellationToken).ConfigureAwait(false);
            if (reply.PushSlot is not { } slot || slot.Version <= Slot.Version) return;
            Volatile.Write(ref _slot, slot);
            client.PushOrder = slot.Order;
            lock (_gate) report.PushSlotVersion = slot.Version;
            log.Debug("Worker {WorkerId} push slot version {Version}: order {Order}, {Offset:F3} s after its parameters arrive (step {Step})",
                client.WorkerId, slot.Version, slot.Order, slot.OffsetSeconds, request.Step);
        }
        catch (Exception e) when (e is Core.Shards.ShardException or OperationCanceledException or InvalidOperationException)
        {
            log.Debug("Worker {WorkerId} could not report its step times to the coordinator: {Reason}", client.WorkerId, e.Message);
        }
    }
}
