namespace GpuPs.Worker;

/// <summary>What one worker did in a run.</summary>
public sealed class WorkerReport(int workerId, string device)
{
    /// <summary>The id the servers gave this worker, 0..workers-1.</summary>
    public int WorkerId { get; } = workerId;
    /// <summary>The compute device it ran on, as <c>IComputeBackend.DeviceName</c> describes it.</summary>
    public string Device { get; } = device;
    /// <summary>Steps whose contribution this worker computed and pushed.</summary>
    public long Steps { get; set; }
    /// <summary>Steps given up because the servers closed them without this worker (it straggled).</summary>
    public long StepsAbandoned { get; set; }
    /// <summary>Steps whose parameters came back with the previous step's push (a fused push-pull: no pull of their own).</summary>
    public long FusedPulls { get; set; }
    /// <summary>Pushes the servers refused because their step had closed meanwhile.</summary>
    public long PushesDropped => Interlocked.Read(ref _pushesDropped);
    private long _pushesDropped;

    /// <summary>Pushes to several shards are refused concurrently.</summary>
    public void CountDroppedPush() => Interlocked.Increment(ref _pushesDropped);
    private long _bytesPushed;

    /// <summary>Tensor bytes of every push the servers accepted.</summary>
    public long BytesPushed => Interlocked.Read(ref _bytesPushed);

    /// <summary>Pushes to several shards complete concurrently.</summary>
    public void AddBytesPushed(long bytes) => Interlocked.Add(ref _bytesPushed, bytes);
    /// <summary>
    /// Real gradient-kernel time of the steps it pushed, in seconds: without injected delays, pulls, pushes, and
    /// without abandoned steps.
    /// </summary>
    public double ComputeSeconds { get; set; }
    /// <summary>Proportional jobs: assignment versions this worker switched to after its first (rebalances it followed).</summary>
    public int Rebalances { get; set; }
    /// <summary>Proportional jobs: training rows it had to load onto its device because a rebalance gave them to it.</summary>
    public long RowsLoaded { get; set; }
    /// <summary>Wall time spent waiting for pulled parameters, in seconds.</summary>
    public double PullSeconds { get; set; }
    /// <summary>
    /// Wall time from the end of a step's compute until all its pushes completed, in seconds (per-partition pushes that
    /// overlap the compute count only for what remains).
    /// </summary>
    public double PushSeconds { get; set; }

    private readonly List<double> _pushLatencies = [];

    /// <summary>
    /// Seconds each push took, from its first byte to every shard's answer (a round-robin slot's wait not included), in
    /// the order they ended: the latencies <c>gpups bench network</c> reports percentiles of.
    /// </summary>
    public IReadOnlyList<double> PushLatencies { get { lock (_pushLatencies) return [.. _pushLatencies]; } }

    /// <summary>Per-partition pushes end concurrently.</summary>
    public void RecordPushLatency(double seconds) { lock (_pushLatencies) _pushLatencies.Add(seconds); }

    /// <summary>Tensor bytes of every pull (compressed deltas at their encoded size).</summary>
    public long BytesPulled { get; set; }

    private long _compressTicks;

    /// <summary>
    /// CPU time spent rounding pushes to their wire encoding (top-k selection, sign scaling, bfloat16 rounding) with
    /// error feedback, in seconds: apart from the compute, and in the push time.
    /// </summary>
    public double CompressSeconds => TimeSpan.FromTicks(Interlocked.Read(ref _compressTicks)).TotalSeconds;

    /// <summary>Per-partition pushes round concurrently with the next partition's compute.</summary>
    public void AddCompressSeconds(double seconds) => Interlocked.Add(ref _compressTicks, TimeSpan.FromSeconds(seconds).Ticks);

    private readonly Queue<WorkerStepPhases> _phases = new();

    /// <summary>Steps whose phases <see cref="StepPhases"/> keeps: the last 10,000, as the shard keeps its step times.</summary>
    public const int KeptStepPhases = 10_000;

    /// <summary>The per-step timeline of the steps this worker pushed (the last <see cref="KeptStepPhases"/>), oldest first.</summary>
    public IReadOnlyList<WorkerStepPhases> StepPhases { get { lock (_phases) return [.. _phases]; } }

    /// <summary>The phases of the last step this worker pushed (null before the first).</summary>
    public WorkerStepPhases? LastStep { get { lock (_phases) return _last; } }

    private WorkerStepPhases? _last;

    /// <summary>Keeps one pushed step's phases.</summary>
    public void RecordStep(WorkerStepPhases phases)
    {
        lock (_phases)
        {
            _last = phases;
            _phases.Enqueue(phases);
            if (_phases.Count > KeptStepPhases) _phases.Dequeue();
        }
    }

    /// <summary>Round-robin: the newest push-slot version the coordinator gave this worker (0: none yet, or not round-robin).</summary>
    public long PushSlotVersion { get; set; }

    /// <summary>Round-robin: seconds this worker's pushes waited, ready, for their turns on the shards' links (not in the push latencies).</summary>
    public double SlotWaitSeconds { get { lock (_pushLatencies) return _slotWaitSeconds; } set { lock (_pushLatencies) _slotWaitSeconds = value; } }
    private double _slotWaitSeconds;

    /// <summary>Adds one push's turn wait; pushes of several partitions end concurrently.</summary>
    public void AddTurnWait(double seconds) { lock (_pushLatencies) _slotWaitSeconds += seconds; }
}
