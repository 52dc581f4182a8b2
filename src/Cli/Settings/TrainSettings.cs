using GpuPs.Core.Compression;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Cli.Settings;

/// <summary>Everything that defines a training job and how the embedded cluster runs it. Defaults are the README's default run.</summary>
public sealed record TrainSettings
{
    public string Dataset { get; init; } = "digits";
    public Kernels.ModelKind Model { get; init; } = Kernels.ModelKind.Softmax;
    public int Hidden { get; init; } = 64;
    public int Workers { get; init; } = 4;
    public int Servers { get; init; } = 1;
    public SyncMode Mode { get; init; } = SyncMode.Bsp;
    public int Staleness { get; init; } = 2;
    /// <summary>Gradient code of the coded and multi-message modes: auto | fractional | cyclic | uncoded.</summary>
    public string Code { get; init; } = "auto";
    /// <summary>s: stragglers tolerated (coded, backup; multi-message replication).</summary>
    public int Stragglers { get; init; }
    /// <summary>Injected straggler delays (experiments): none | persistent:… | shifted-exponential:… | bimodal:… | throttle:….</summary>
    public string StragglerModel { get; init; } = "none";
    public int Epochs { get; init; } = 20;
    /// <summary>Steps per worker; 0 derives it from <see cref="Epochs"/>.</summary>
    public long Steps { get; init; }
    public int BatchSize { get; init; } = 32;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    public float LearningRate { get; init; } = 0.5f;
    public float Momentum { get; init; } = 0.9f;
    public ulong Seed { get; init; } = 42;
    public double TestFraction { get; init; } = 0.2;
    /// <summary>Each worker's compute device: one for all, or one per worker id (<c>cuda+simd+simd+simd</c>).</summary>
    public WorkerAccelerators Accelerator { get; init; } = AcceleratorChoice.Auto;
    public bool Processes { get; init; }
    /// <summary>The data plane workers move tensors over: auto (framed TCP when the server offers it) | grpc | tcp.</summary>
    public Worker.Transport.TransportChoice Transport { get; init; }
    /// <summary>
    /// Workers' tensor partitioning, priorities and credit (<c>--piece-size</c>, <c>--credit-bytes</c>); null: whole
    /// tensors. The piece size (auto: <see cref="Worker.Scheduling.PieceOptions.StartPieceFloats"/>) is also the job's
    /// (<see cref="Core.Training.TrainingJob.PieceFloats"/>): a bsp shard closes each piece's key range on its own.
    /// </summary>
    public Worker.Scheduling.PieceOptions? Pieces { get; init; }
    /// <summary>The servers' data-plane frame checksum (<c>--frame-checksum</c>): auto | xxh3 | none; workers follow it.</summary>
    public string FrameChecksum { get; init; } = "auto";
    /// <summary>Workers fuse each step's push with the pull that follows it where they can (one round trip on the TCP data plane).</summary>
    public bool FusedPushPull { get; init; } = true;
    /// <summary>How workers overlap compute with the push (<c>--overlap</c>).</summary>
    public Worker.ComputeOverlap Overlap { get; init; }
    public int HeartbeatTimeoutMs { get; init; } = 10_000;
    public int StepTimeoutMs { get; init; } = 30_000;
    /// <summary>How workers push gradients: f32 | bf16.</summary>
    public string WireFormat { get; init; } = "f32";
    /// <summary>When workers push within a step: simultaneous | round-robin.</summary>
    public string Schedule { get; init; } = "simultaneous";
    /// <summary>Round-robin: transfers that may share a server link at a time.</summary>
    public int PushConcurrency { get; init; } = 1;
    /// <summary>How data is shared among workers: uniform | proportional (by measured speed, from the coordinator).</summary>
    public string Assignment { get; init; } = "uniform";
    /// <summary>How workers compress pushes (error feedback on the worker): none | topk | sign.</summary>
    public string Compression { get; init; } = "none";
    /// <summary>How servers compress pulls (deltas against each worker's copy): none | topk | sign.</summary>
    public string PullCompression { get; init; } = "none";
    /// <summary>Top-k: share of the values a compressed message carries.</summary>
    public double TopKRatio { get; init; } = 0.01;
    /// <summary>DGC momentum correction of compressed pushes (0: off).</summary>
    public double MomentumCorrection { get; init; }
    /// <summary>Compressed pulls: every this many pulls of a worker carry the exact parameters.</summary>
    public int FullPullEvery { get; init; } = Core.Compression.CompressionSettings.DefaultFullPullEvery;
    public string Output { get; init; } = "results/train.json";
    /// <summary>Hierarchical aggregation: the nodes whose workers push through a node aggregator (null: flat).</summary>
    public Core.Topology.ClusterTopology? Topology { get; init; }
    /// <summary>How long a node aggregator waits for its node's other workers after a step's first push.</summary>
    public int GatherTimeoutMs { get; init; } = 2_000;
    /// <summary>How long a worker waits for its aggregator's answer before it pushes to the shard directly.</summary>
    public int AggregatorTimeoutMs { get; init; } = 10_000;

    /// <summary>The job these settings define, for <see cref="JobBuilder"/>.</summary>
    public JobDefinition ToDefinition() => new(Dataset, Model, Hidden, Workers, Core.Modes.SyncModes.Of(Mode).Name, Staleness, Code, Stragglers, StragglerModel,
        Epochs, Steps, BatchSize, Seed, TestFraction, HeartbeatTimeoutMs, StepTimeoutMs, WireFormat, Schedule, PushConcurrency, Assignment,
        new CompressionSettings(CompressionKinds.Parse(Compression), CompressionKinds.Parse(PullCompression), TopKRatio, MomentumCorrection, FullPullEvery),
        PieceFloats: Pieces is null ? 0 : Pieces.PieceFloats > 0 ? Pieces.PieceFloats : Worker.Scheduling.PieceOptions.StartPieceFloats);
}
