namespace GpuPs.Cli.Cluster;

/// <summary>One evaluation of the model during a run; <see cref="Epoch"/> is the step it saw, in passes over a partition.</summary>
public sealed record EpochRecord(double Epoch, long Step, double WallSeconds, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy);

/// <summary>What one worker did (worker processes: as each wrote it when it finished).</summary>
public sealed record WorkerSummary(int WorkerId, string Device, long Steps, long StepsAbandoned, long PushesDropped, long BytesPushed,
    double ComputeSeconds, double PullSeconds, double PushSeconds, long PushSlotVersion = 0, double SlotWaitSeconds = 0, double CompressSeconds = 0, long BytesPulled = 0, long FusedPulls = 0);

/// <summary>
/// The JSON result file of <c>gpups train</c>. <c>Command</c> and <c>Settings</c> record every setting of the run, so the
/// file says how to reproduce it; <c>Code</c> names the gradient code actually built (its construction and the s it
/// tolerates, which may exceed the s asked for).
/// </summary>
public sealed record TrainResult(
    string Dataset,
    string Model,
    string Mode,
    int Workers,
    int Servers,
    long Steps,
    long ParameterCount,
    string Device,
    double WallSeconds,
    double TestAccuracy,
    double TestLoss,
    double TrainAccuracy,
    double TrainLoss,
    long PushesApplied,
    long PushesRejected,
    int MaxStalenessSeen,
    long PushesDroppedLate,
    IReadOnlyList<double> StepSeconds,
    IReadOnlyList<double> StepLoss,
    IReadOnlyList<EpochRecord> History,
    IReadOnlyList<WorkerSummary> WorkerReports,
    IReadOnlyList<float> Parameters,
    string Command,
    string Code,
    Settings.TrainSettings Settings)
{
    /// <summary>The final model with its input standardisation, for <c>ModelFile</c>; not part of the JSON (its parameters are).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public GpuPs.Core.Models.ExportedModel? Export { get; init; }

    /// <summary>Each in-process worker's steps, begun and finished or abandoned (empty with <c>--processes</c>), for <c>gpups report</c>.</summary>
    public IReadOnlyList<WorkerStepSpan> Timeline { get; init; } = [];

    /// <summary>Where the mean step went, per worker and overall (null when no worker reported a step).</summary>
    public StepBreakdown? StepBreakdown { get; init; }

    /// <summary>A proportional job's assignment at the end, as shard 0 reported it (null otherwise).</summary>
    public AssignmentSummary? Assignment { get; init; }

    /// <summary>Each worker's step timeline by worker id (<see cref="GpuPs.Worker.WorkerReport.StepPhases"/>), for the benches' step anatomy; not part of the JSON.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyDictionary<int, IReadOnlyList<GpuPs.Worker.WorkerStepPhases>> WorkerSteps { get; init; } = new Dictionary<int, IReadOnlyList<GpuPs.Worker.WorkerStepPhases>>();
}
