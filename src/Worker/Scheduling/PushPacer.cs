using System.Diagnostics;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using Serilog;

namespace GpuPs.Worker.Scheduling;

/// <summary>
/// A worker's side of the round-robin schedule: holds each push of a step until the worker's slot, measures how long
/// the gradient took to be ready and how long the push took, and reports both to the coordinator (shard 0) after the
/// step, whose reply carries the slot for the next steps. The slot is only ever the coordinator's: until its first reply
/// (version 0) the worker pushes as soon as it is ready. One per worker loop; not thread-safe except that a report's
/// reply may land at any time (the slot is swapped atomically, newest version wins).
/// </summary>
public sealed class PushPacer(ShardedParameterClient client, WorkerReport report, ILogger log)
{
    private readonly object _gate = new();   // per-partition pushes of one step end concurrently
    private PushSlot _slot = new();
    private PushSlot _stepSlot = new();
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

    /// <summary>
    /// Waits for this step's slot (no wait when it has passed or there is none), then runs <paramref name="push"/>, and
    /// times it. The first push of the step marks when the gradient was ready.
    /// </summary>
    /// <param name="push">The push; it runs once the slot has come, and is not cancelled by <paramref name="waitCancelled"/>.</param>
    /// <param name="waitCancelled">Cancels the wait for the slot (the step closed without this worker).</param>
    public async Task<T> PushAsync<T>(Func<Task<T>> push, CancellationToken waitCancelled)
    {
        double now = Stopwatch.GetElapsedTime(_stepStart).TotalSeconds;
        lock (_gate) if (_ready < 0) _ready = now;
        var wait = TimeSpan.FromSeconds(_stepSlot.OffsetSeconds - now);
        if (wait > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(wait, waitCancelled).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The step closed while this worker waited: its ready time still tells the coordinator where to put it.
                EndStep();
                throw;
            }
            lock (_gate) report.SlotWaitSeconds += wait.TotalSeconds;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            return await push().ConfigureAwait(false);
        }
        finally
        {
            lock (_gate) _pushSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
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
