using GpuPs.Kernels;

namespace GpuPs.Core.Training;

/// <summary>
/// What a user asks for when defining a training job, before anything is derived from the data; <see cref="JobBuilder"/>
/// turns it into the <see cref="TrainingJob"/> every process of the job agrees on. Defaults are the README's default run.
/// </summary>
/// <param name="Dataset">A <see cref="Data.DatasetCatalog"/> spec.</param>
/// <param name="Hidden">Hidden units of the MLP (ignored by the other models).</param>
/// <param name="Mode">The consistency mode's name (<see cref="Modes.SyncModes.Parse"/>): bsp, asp, ssp, coded, multi-message, backup.</param>
/// <param name="Code">Gradient code of the coded and multi-message modes: auto | fractional | cyclic | uncoded.</param>
/// <param name="Stragglers">s: stragglers tolerated (coded, backup; multi-message replication).</param>
/// <param name="StragglerModel">Injected straggler delays for experiments (none | persistent:… | shifted-exponential:… | bimodal:… | throttle:…).</param>
/// <param name="Steps">Steps per worker; 0 derives them from <paramref name="Epochs"/>.</param>
/// <param name="BatchSize">Rows per partition per step; 0 is the whole partition.</param>
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
    int StepTimeoutMs = 30_000);
