namespace GpuPs.Server.Coordination;

/// <summary>
/// One worker's smoothed step times, as the coordinator plans with them: <see cref="Ready"/> (from its parameters'
/// arrival to its gradient being ready to push) and <see cref="Transfer"/> (how long its push occupies the link while
/// at most the schedule's concurrency share it). A measurement above the estimate moves it by <see cref="Smoothing"/>
/// (one slow step does not push everyone's slot back); one below replaces it at once, since a slot planned too late
/// leaves the link idle while the worker waits (step 0, with its JIT compilation, would otherwise delay the next steps).
/// The first measurement is taken as is. Not thread-safe (the coordinator locks).
/// </summary>
public sealed class WorkerTimes
{
    /// <summary>Weight of a higher measurement in the moving average: half, so a slower link shows within two steps.</summary>
    public const double Smoothing = 0.5;

    /// <summary>Smoothed seconds from the step's start to the gradient being ready; 0 until measured.</summary>
    public double Ready { get; private set; }

    /// <summary>Smoothed seconds a push takes under the schedule's concurrency; 0 until measured.</summary>
    public double Transfer { get; private set; }

    /// <summary>Whether any step of this worker has been measured.</summary>
    public bool Measured { get; private set; }

    /// <summary>
    /// Folds in one step's measurement; a null <paramref name="transfer"/> (the step closed before this worker pushed)
    /// leaves the transfer estimate as it was. Non-finite or negative values are ignored.
    /// </summary>
    public void Add(double ready, double? transfer)
    {
        if (!double.IsFinite(ready) || ready < 0 || transfer is { } t && (!double.IsFinite(t) || t < 0)) return;
        Ready = Fold(Ready, ready);
        if (transfer is { } measured) Transfer = Fold(Transfer, measured);
        Measured = true;
    }

    private double Fold(double estimate, double measured) =>
        !Measured || measured < estimate ? measured : estimate + Smoothing * (measured - estimate);

    /// <summary>Forgets every measurement (a worker that rejoined may run on another machine).</summary>
    public void Reset() => (Ready, Transfer, Measured) = (0, 0, false);
}
