using GpuPs.Kernels;

namespace GpuPs.Core.Training;

/// <summary>
/// What a user asks for when defining a training job, before anything is derived from the data; <see cref="JobBuilder"/>
/// turns it into the <see cref="TrainingJob"/> every process of the job agrees on. Defaults are the README's default run.
/// </summary>
/// <param name="Dataset">A <see cref="Data.DatasetCatalog"/> spec.</param>
/// <param name="Model">The model trained; its shape comes from the data set.</param>
/// <param name="Hidden">Hidden units of the MLP (ignored by the other models).</param>
/// <param name="Workers">n: workers, and data partitions; at least 1, and at most the training rows.</param>
/// <param name="Mode">The consistency mode's name (<see cref="Modes.SyncModes.Parse"/>): bsp, asp, ssp, coded, multi-message, backup.</param>
/// <param name="Staleness">SSP: steps a worker may lead the slowest expected worker by; at least 0.</param>
/// <param name="Code">Gradient code of the coded and multi-message modes: auto | fractional | cyclic | uncoded.</param>
/// <param name="Stragglers">s: stragglers tolerated (coded, backup; multi-message replication).</param>
/// <param name="StragglerModel">Injected straggler delays for experiments (none | persistent:… | shifted-exponential:… | bimodal:… | throttle:…).</param>
/// <param name="Epochs">Passes over each worker's partition; used only when <paramref name="Steps"/> is 0.</param>
/// <param name="Steps">Steps per worker; 0 derives them from <paramref name="Epochs"/>.</param>
/// <param name="BatchSize">Rows per partition per step; 0 is the whole partition.</param>
/// <param name="WireFormat">How workers push tensors: f32 (exact) or bf16 (half the bytes, with error feedback).</param>
/// <param name="Schedule">When workers push within a step: simultaneous or round-robin (<see cref="PushSchedules.Parse"/>).</param>
/// <param name="PushConcurrency">Round-robin: transfers that may share a server link at a time; at least 1.</param>
/// <param name="Assignment">uniform (equal shares) or proportional (shares by measured speed, from the coordinator).</param>
/// <param name="Compression">Compression of pushes and pulls (none by default).</param>
/// <param name="PieceFloats">Per-range closing (bsp): parameters per key range a shard closes on its own; 0: whole steps.</param>
/// <param name="Seed">Seeds the data, the split, the initial parameters and the straggler draws.</param>
/// <param name="TestFraction">Share of the rows held out for evaluation, in (0, 1).</param>
/// <param name="HeartbeatTimeoutMs">A worker silent this long is evicted; a shard silent this long is given up.</param>
/// <param name="StepTimeoutMs">Deadline of a worker's calls, in milliseconds.</param>
public sealed record JobDefinition(
    string Dataset = "digits",
    ModelKind Model = ModelKind.Softmax,
    int Hidden = 64,
    int Workers = 4,
    string Mode = "bsp",
    int Staleness = 2,
    string Code = "auto",
    int Stragglers = 0,
    string StragglerModel = "none",
    int Epochs = 20,
    long Steps = 0,
    int BatchSize = 32,
    ulong Seed = 42,
    double TestFraction = 0.2,
    int HeartbeatTimeoutMs = 10_000,
    int StepTimeoutMs = 30_000,
    string WireFormat = "f32",
    string Schedule = "simultaneous",
    int PushConcurrency = 1,
    string Assignment = "uniform",
    Compression.CompressionSettings? Compression = null,
    int PieceFloats = 0);
