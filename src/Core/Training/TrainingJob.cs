using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Core.Training;

/// <summary>
/// The job every process of a training run agrees on, in domain terms: what model, which consistency mode, how many
/// workers and steps, which data and how it is batched. Built by <see cref="JobBuilder"/>; it travels between servers
/// and workers as the proto <c>JobSpec</c> (<see cref="Protocol.JobSpecWire"/>), which nothing else uses.
/// </summary>
public sealed record TrainingJob
{
    /// <summary>The model and the layout of its flat parameter vector.</summary>
    public required ModelShape Model { get; init; }

    /// <summary>The consistency mode: the shard's aggregation rule and the worker's push rule.</summary>
    public required ISyncMode Mode { get; init; }

    /// <summary>n: workers, and data partitions.</summary>
    public required int Workers { get; init; }

    /// <summary>Steps of the job (per worker in ASP/SSP).</summary>
    public required long Steps { get; init; }

    /// <summary>A <see cref="Data.DatasetCatalog"/> spec every process resolves to the same data.</summary>
    public required string Dataset { get; init; }

    /// <summary>Rows per partition per step; 0 is the whole partition.</summary>
    public int BatchSize { get; init; }

    /// <summary>Seeds the data, the split, the initial parameters and the straggler draws.</summary>
    public ulong Seed { get; init; }

    /// <summary>Share of the rows held out for evaluation, in (0, 1).</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>SSP: steps a worker may lead the slowest expected worker by.</summary>
    public int Staleness { get; init; }

    /// <summary>Gradient code of the coded and multi-message modes: auto | fractional | cyclic | uncoded.</summary>
    public string Code { get; init; } = "auto";

    /// <summary>s: stragglers tolerated (backup, coded, multi-message).</summary>
    public int Stragglers { get; init; }

    /// <summary>Injected straggler delays for experiments (the workers' step hook); "none" in production.</summary>
    public string StragglerModel { get; init; } = "none";

    /// <summary>A worker silent this long is evicted; a shard silent this long is given up by its workers.</summary>
    public int HeartbeatTimeoutMs { get; init; } = 10_000;

    /// <summary>Deadline of a worker's calls (a pull waiting for other workers is repeated).</summary>
    public int StepTimeoutMs { get; init; } = 30_000;

    /// <summary>
    /// How workers push tensors: float32 (exact), or bfloat16 with error feedback (half the bytes; not with the coded
    /// mode, whose decode is exact only for what the workers encoded).
    /// </summary>
    public TensorEncoding WireFormat { get; init; } = TensorEncoding.Float32;

    /// <summary>When workers push within a step: all at once, or in the coordinator's round-robin slots.</summary>
    public PushSchedule Schedule { get; init; } = PushSchedule.Simultaneous;

    /// <summary>Round-robin: transfers that may share a server link at a time; at least 1.</summary>
    public int PushConcurrency { get; init; } = 1;
    /// <summary>How data is shared among workers: equally, or in proportion to measured speed (the coordinator's).</summary>
    public AssignmentPolicy Assignment { get; init; } = AssignmentPolicy.Uniform;

    /// <summary>Compression of pushes (worker, error feedback) and pulls (server, deltas against each worker's copy).</summary>
    public Compression.CompressionSettings Compression { get; init; } = Core.Compression.CompressionSettings.None;

    /// <summary>
    /// Per-range closing: the values per key range a shard closes on its own (<see cref="Scheduling.ClosingRanges"/>), or 0
    /// for whole steps. Modes that close per range (<see cref="ISyncMode.ClosesPerRange"/>) apply a range's update as soon
    /// as every expected worker pushed its piece of it; workers push and pull in exactly those pieces.
    /// </summary>
    public int PieceFloats { get; init; }

    /// <summary>Length of the flat parameter vector.</summary>
    public int ParameterCount => Model.ParameterCount;

    /// <summary>Throws <see cref="ArgumentException"/> with one readable line for an impossible job.</summary>
    public void Validate()
    {
        if (Workers <= 0) throw new ArgumentException($"workers must be at least 1 (got {Workers})");
        if (Stragglers < 0 || Stragglers >= Workers)
            throw new ArgumentException($"stragglers must be in 0..{Workers - 1} for {Workers} workers (got {Stragglers})");
        if (Stragglers > 0 && !Mode.ToleratesStragglers)
        {
            var tolerant = SyncModes.All.Where(m => m.ToleratesStragglers).Select(m => m.Name).ToArray();
            throw new ArgumentException($"stragglers (s = {Stragglers}) apply to the {string.Join(", ", tolerant[..^1])} and {tolerant[^1]} modes; {Mode.Name} ignores them");
        }
        Mode.Assignment(this);
        if (Assignment.BySpeed() && !Mode.AssignsBySpeed)
        {
            var modes = SyncModes.All.Where(m => m.AssignsBySpeed).Select(m => m.Name).ToArray();
            throw new ArgumentException($"--assignment proportional needs a mode with a step boundary to reassign at and a share per worker: {string.Join(", ", modes)}; {Mode.Name} assigns uniformly");
        }
        if (Staleness < 0) throw new ArgumentException($"staleness must be >= 0 (got {Staleness})");
        if (Steps <= 0) throw new ArgumentException($"steps must be at least 1 (got {Steps})");
        if (BatchSize < 0) throw new ArgumentException($"batch size must be >= 0, 0 meaning the whole partition (got {BatchSize})");
        if (TestFraction <= 0 || TestFraction >= 1) throw new ArgumentException($"test fraction must be in (0, 1) (got {TestFraction})");
        if (HeartbeatTimeoutMs <= 0) throw new ArgumentException($"heartbeat timeout must be positive (got {HeartbeatTimeoutMs} ms)");
        if (StepTimeoutMs <= 0) throw new ArgumentException($"step timeout must be positive (got {StepTimeoutMs} ms)");
        if (PushConcurrency < 1) throw new ArgumentException($"push concurrency must be at least 1 (got {PushConcurrency})");
        if (PieceFloats < 0) throw new ArgumentException($"piece size must be >= 0 parameters, 0 meaning whole steps (got {PieceFloats})");
        Model.Validate();
        if (WireFormat == TensorEncoding.BFloat16 && !Mode.AcceptsRoundedPushes)
            throw new ArgumentException($"bf16 on the wire would break the exact decode of the {Mode.Name} mode (the decode weights amplify rounding); use --wire-format f32");
        Compression.Validate(Mode, WireFormat);
    }

    /// <summary>The name of a wire format as users write it: f32 or bf16.</summary>
    public static string WireFormatName(TensorEncoding encoding) => encoding == TensorEncoding.BFloat16 ? "bf16" : "f32";

    /// <summary>The wire format a user named.</summary>
    /// <exception cref="ArgumentException">Neither f32 nor bf16.</exception>
    public static TensorEncoding ParseWireFormat(string name) => name.Trim().ToLowerInvariant() switch
    {
        "" or "f32" or "float32" => TensorEncoding.Float32,
        "bf16" or "bfloat16" => TensorEncoding.BFloat16,
        _ => throw new ArgumentException($"unknown wire format '{name}': use f32 or bf16"),
    };

    /// <summary>
    /// Steps one pass over a partition takes: the training rows split into <paramref name="workers"/> partitions, each
    /// contributing <paramref name="batchSize"/> rows per step (0: the whole partition).
    /// </summary>
    public static int StepsPerEpoch(int trainRows, int workers, int batchSize)
    {
        int partitionRows = trainRows / workers;
        return batchSize <= 0 || batchSize >= partitionRows ? 1 : (partitionRows + batchSize - 1) / batchSize;
    }
}
