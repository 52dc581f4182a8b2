namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// The coordinator's view of each worker's throughput: the median of its last few reports (<see cref="Recent"/>, what
/// drift is judged on and shares are assigned by), and for status an exponentially weighted mean of the rows per second
/// it reports (weight <see cref="Smoothing"/> on the newest report) and of its push/pull time. A report of 0 means "not
/// measured" (a keep-alive heartbeat) and is ignored. Any other report counts as the worker having reported, but one
/// that is not a believable speed (negative, NaN, infinite, above <see cref="WorkerSpeeds.MaxSpeed"/>) moves no
/// estimate: a worker that only ever reports nonsense keeps estimate 0, which <see cref="WorkerSpeeds.Clamp"/> replaces
/// by the median, so it still gets a typical share. Not thread-safe: the shard calls it under its lock.
/// </summary>
public sealed class SpeedEstimates(int workers)
{
    /// <summary>
    /// Weight of the newest report. 0.5 follows a worker that drops to 1/4 speed to within 25% of its new speed in 3
    /// reports (0.5³ · 4 = 0.5 → estimate 0.31 against 0.25), while one noisy step moves the estimate only halfway.
    /// </summary>
    public const double Smoothing = 0.5;

    private readonly double[] _speed = new double[workers];
    private readonly double[] _exchange = new double[workers];
    private readonly double[] _last = new double[workers];
    private readonly int[] _reports = new int[workers];
    private readonly bool[] _probed = new bool[workers];   // the estimate is still the probe's
    private readonly RecentMedian[] _recent = Window(workers);
    private readonly RecentMedian[] _shareSeconds = Window(workers);
    private readonly RecentMedian[] _fixedSeconds = Window(workers);

    /// <summary>
    /// Believable reports kept per worker for <see cref="Recent"/>: 5. Their median ignores two odd steps, and a drift is
    /// reassigned at the speed of those steps, not at a smoothed value still on its way (measured: with the smoothed
    /// value a worker dropping to 1/4 was assigned at ~1/3 and the cluster took 11–17 steps to settle). 3 before: under
    /// ±30% noise the median of 3 drifted past 25% about every 27 steps (<see cref="ShareDrift.NoiseZ"/>).
    /// </summary>
    public const int RecentReports = 5;

    private readonly int[] _fresh = new int[workers];   // step reports since MarkVersion

    /// <summary>Number of workers.</summary>
    public int Workers => _speed.Length;

    /// <summary>Smoothed rows per second of <paramref name="worker"/> (0 until it reported one it could believe).</summary>
    public double Speed(int worker) => _speed[worker];

    /// <summary>Smoothed push + pull seconds of a step of <paramref name="worker"/> (0 until reported).</summary>
    public double ExchangeSeconds(int worker) => _exchange[worker];

    /// <summary>The last raw rows per second <paramref name="worker"/> reported, believable or not.</summary>
    public double LastReport(int worker) => _last[worker];

    /// <summary>Speed reports (other than 0) taken from <paramref name="worker"/>, believable or not.</summary>
    public int Reports(int worker) => _reports[worker];

    /// <summary>True once every worker has reported a speed.</summary>
    public bool Complete => _reports.All(r => r > 0);

    /// <summary>Per worker, the median of its last <see cref="RecentReports"/> believable reports (0 for none).</summary>
    public double[] Recent() => _recent.Select(q => q.Value).ToArray();

    /// <summary>Per worker, its last <see cref="RecentReports"/> reports' standard deviation over their mean.</summary>
    public double Spread(int worker) => _recent[worker].RelativeSpread;

    /// <summary>Believable step reports of <paramref name="worker"/> measured on the version in force (since <see cref="MarkVersion"/>).</summary>
    public int Fresh(int worker) => _fresh[worker];

    /// <summary>
    /// Worker <paramref name="worker"/>'s newest believable step reports measured on the version in force, oldest first:
    /// at most <paramref name="count"/>, <see cref="Fresh"/> and <see cref="RecentReports"/> (for <see cref="SpeedJump"/>).
    /// </summary>
    public double[] Newest(int worker, int count) => _recent[worker].Newest(Math.Min(count, _fresh[worker]));

    /// <summary>A new assignment version: reports count as measured on it only from now on (<see cref="Report"/>'s <c>current</c>).</summary>
    public void MarkVersion() => Array.Clear(_fresh);

    /// <summary>Rows of a whole step, as the workers last reported it (0 until one did).</summary>
    public long StepRows { get; private set; }

    /// <summary>
    /// Worker <paramref name="worker"/>'s step costs for the zero-share rule at speed <paramref name="speed"/> (its
    /// clamped estimate): the medians of its last <see cref="RecentReports"/> steps' kernel seconds (their rows over
    /// their own measured speed, not the clamped one: the clamp bounds shares, and a worker measured 2,000× below the
    /// median — the CPU workers beside an H100 — really takes that long; at the clamped speed it looked 2× faster than it
    /// was and kept its rows) and fixed seconds. An idle worker reports no steps, so it keeps those of its last share.
    /// </summary>
    public StepCost Cost(int worker, double speed) => new(speed, _shareSeconds[worker].Value, _fixedSeconds[worker].Value);

    private static RecentMedian[] Window(int workers) => Enumerable.Range(0, workers).Select(_ => new RecentMedian(RecentReports)).ToArray();

    /// <summary>
    /// Takes one report; returns false when it is a report (not 0) of an unbelievable speed, which changes no estimate.
    /// A <paramref name="probe"/> (a worker's measurement before it holds data: a small sample on cold kernels, measured
    /// 5-15× below its steps' rows per second) is the estimate until the worker's first step report, which replaces it
    /// and its place among the recent reports instead of being averaged with it.
    /// </summary>
    /// <param name="worker">The reporting worker.</param>
    /// <param name="rowsPerSecond">Its kernel throughput (0: not measured).</param>
    /// <param name="exchangeSeconds">Its push + pull seconds per step, for status.</param>
    /// <param name="probe">The throughput is a probe's, not a step's.</param>
    /// <param name="shape">What its measured steps held (rows, rows of the whole step, fixed seconds); none for a probe.</param>
    /// <param name="current">The steps were computed with the version in force (counted in <see cref="Fresh"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">No such worker.</exception>
    public bool Report(int worker, double rowsPerSecond, double exchangeSeconds, bool probe = false, StepShape shape = default, bool current = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(worker);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(worker, Workers);
        if (rowsPerSecond == 0) return true;
        _last[worker] = rowsPerSecond;
        if (double.IsFinite(exchangeSeconds) && exchangeSeconds >= 0)
            _exchange[worker] = _exchange[worker] == 0 ? exchangeSeconds : Smoothing * exchangeSeconds + (1 - Smoothing) * _exchange[worker];
        _reports[worker]++;
        if (!(double.IsFinite(rowsPerSecond) && rowsPerSecond > 0 && rowsPerSecond <= WorkerSpeeds.MaxSpeed)) return false;
        if (probe || _probed[worker])
        {
            _speed[worker] = 0;
            _recent[worker].Clear();
            _probed[worker] = probe;
        }
        _speed[worker] = _speed[worker] == 0 ? rowsPerSecond : Smoothing * rowsPerSecond + (1 - Smoothing) * _speed[worker];
        _recent[worker].Add(rowsPerSecond);
        if (!probe && current) _fresh[worker]++;
        if (!probe && shape.Rows > 0 && double.IsFinite(shape.FixedSeconds) && shape.FixedSeconds >= 0)
        {
            _shareSeconds[worker].Add(shape.Rows / rowsPerSecond);
            _fixedSeconds[worker].Add(shape.FixedSeconds);
            if (shape.StepRows >= shape.Rows) StepRows = shape.StepRows;
        }
        return true;
    }
}
