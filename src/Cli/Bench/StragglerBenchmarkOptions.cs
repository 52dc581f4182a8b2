namespace GpuPs.Cli.Bench;

/// <summary>
/// The grid of <c>gpups bench stragglers</c>: one training run per (scheme, s, delay model). The defaults are the full run
/// (about 6 minutes on 2 cores before the absolute-delay model was added; its time-model estimate adds about 2);
/// <see cref="Quick"/> is a smoke configuration of about a minute.
/// </summary>
/// <remarks>
/// Eight workers share two cores here, so the real gradient compute of the small model (tens of microseconds per batch)
/// is kept tiny and the time that matters is simulated: <see cref="UnitSeconds"/> of sleep per partition (the cost of
/// holding s + 1 partitions) and the injected delays, both large against the real compute and the loopback gRPC.
/// </remarks>
public sealed record StragglerBenchmarkOptions
{
    public int Workers { get; init; } = 8;

    /// <summary>The workers' devices (<c>--accelerator</c>): one for all, or one per worker; SIMD by default.</summary>
    public Settings.WorkerAccelerators Accelerator { get; init; } = Kernels.AcceleratorChoice.Simd;

    /// <summary>How tensors travel (<c>--transport</c>): auto (the TCP data plane in the embedded cluster), grpc or tcp.</summary>
    public Worker.Transport.TransportChoice Transport { get; init; }

    /// <summary>The s values to try for the schemes that tolerate stragglers (BSP, SSP and ASP run once, at s = 0).</summary>
    public IReadOnlyList<int> Stragglers { get; init; } = [0, 1, 2, 3];

    public IReadOnlyList<StragglerScheme> Schemes { get; init; } = StragglerScheme.All;

    /// <summary>
    /// Straggler specs (see <c>StragglerInjector.Parse</c>) without <c>unit</c>, which <see cref="UnitSeconds"/> supplies.
    /// The default covers: no delay; 2 of 8 workers persistently 10× slower than usual; workers 2 and 5 persistently
    /// 0.5 s late (absolute; in distinct groups of the fractional code at s = 1, which then never waits for them); light- and heavy-tailed
    /// shifted-exponential delays (mean 30 ms and 210 ms against a 20 ms unit); bimodal (20% of steps 0.5 s late); and
    /// a real CPU throttle (2 workers repeat every gradient 2,000×: 10–40 ms of real compute per partition, depending on
    /// JIT tier and on how much of the 2 cores the other workers leave them).
    /// </summary>
    public IReadOnlyList<string> Delays { get; init; } =
    [
        "none",
        "persistent:count=2,factor=10",
        "persistent:workers=2+5,delay=0.5",
        "shifted-exponential:shift=0.01,rate=50",
        "shifted-exponential:shift=0.01,rate=5",
        "bimodal:p=0.2,delay=0.5",
        "throttle:count=2,factor=2000",
    ];

    /// <summary>Steps per run.</summary>
    public int Steps { get; init; } = 30;

    /// <summary>Leading steps left out of the step-time statistics: the first includes cluster start-up and JIT.</summary>
    public int WarmupSteps { get; init; } = 2;

    /// <summary>Simulated compute per partition, in seconds (the spec's <c>unit</c>).</summary>
    public double UnitSeconds { get; init; } = 0.02;

    public ulong Seed { get; init; } = 42;

    public string Dataset { get; init; } = "synthetic:rows=4000,features=50,classes=2,separation=2";

    /// <summary>Rows per partition per step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Training loss the time-to-target column waits for; null derives it as <see cref="TargetFactor"/> × the
    /// final loss of the BSP run without delays (which must then be in the grid).</summary>
    public double? TargetLoss { get; init; }

    /// <summary>Multiplier of the BSP no-delay final loss when <see cref="TargetLoss"/> is null.</summary>
    public double TargetFactor { get; init; } = 1.1;

    /// <summary>The s the loss-curve plots feature (the issue's: n = 8, s = 2).</summary>
    public int FeaturedStragglers { get; init; } = 2;

    /// <summary>A smoke run: BSP, backup, both codes, multi-message and ASP at s = 1 and 2 (fractional at s = 1 only),
    /// with and without workers 2 and 5 persistently 0.5 s late, 12 steps each.</summary>
    public static StragglerBenchmarkOptions Quick { get; } = new()
    {
        Stragglers = [1, 2],
        Schemes = [StragglerScheme.Bsp, StragglerScheme.Backup, StragglerScheme.CodedFractional, StragglerScheme.CodedCyclic, StragglerScheme.MultiMessage, StragglerScheme.Asp],
        Delays = ["none", "persistent:workers=2+5,delay=0.5"],
        Steps = 12,
    };

    /// <exception cref="ArgumentException">A setting out of range; the message names it.</exception>
    public void Validate()
    {
        if (Workers < 2) throw new ArgumentException($"workers must be at least 2 (got {Workers})");
        if (Steps <= WarmupSteps + 1) throw new ArgumentException($"steps must exceed the {WarmupSteps} warm-up steps by at least 2 (got {Steps})");
        if (!(UnitSeconds >= 0) || !double.IsFinite(UnitSeconds)) throw new ArgumentException($"unit must be a finite number of seconds >= 0 (got {UnitSeconds})");
        if (Stragglers.Count == 0 || Stragglers.Any(s => s < 0 || s >= Workers))
            throw new ArgumentException($"stragglers must be a non-empty list of values in 0..{Workers - 1} (got {string.Join(",", Stragglers)})");
        if (Schemes.Count == 0) throw new ArgumentException("schemes must name at least one scheme");
        if (Delays.Count == 0) throw new ArgumentException("delays must name at least one straggler model");
        if (Delays.Any(d => d.Contains("unit=", StringComparison.OrdinalIgnoreCase)))
            throw new ArgumentException("delay specs take no unit= here: --unit sets it for every run");
        if (TargetLoss is <= 0) throw new ArgumentException($"target loss must be positive (got {TargetLoss})");
        Accelerator.Validate(Workers);
    }
}
