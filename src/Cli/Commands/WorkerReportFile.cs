using System.Text.Json;
using GpuPs.Worker;

namespace GpuPs.Cli.Commands;

/// <summary>A worker's <see cref="WorkerReport"/> as the JSON file <c>gpups worker --report FILE</c> writes (snake_case keys).</summary>
public static class WorkerReportFile
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>The fields of a report file, as read back.</summary>
    public sealed record Contents(int WorkerId, string Device, long Steps, long StepsAbandoned, long BytesPushed, double ComputeSeconds,
        double PullSeconds, double PushSeconds, long PushSlotVersion, double SlotWaitSeconds, double[] PushLatencies, double CompressSeconds = 0,
        long BytesPulled = 0, WorkerStepPhases[]? StepPhases = null, long PushesDropped = 0, long FusedPulls = 0);

    /// <summary>Writes <paramref name="report"/> to <paramref name="path"/> (its folder is created).</summary>
    public static void Write(string path, WorkerReport report)
    {
        var contents = new Contents(report.WorkerId, report.Device, report.Steps, report.StepsAbandoned, report.BytesPushed, report.ComputeSeconds,
            report.PullSeconds, report.PushSeconds, report.PushSlotVersion, report.SlotWaitSeconds, [.. report.PushLatencies], report.CompressSeconds,
            report.BytesPulled, [.. report.StepPhases], report.PushesDropped, report.FusedPulls);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(contents, Json));
    }

    /// <summary>
    /// The report <paramref name="c"/> was written from, as its worker had it: how a cluster whose workers ran as
    /// processes (<c>gpups train --processes</c>) gets their counters and step timelines.
    /// </summary>
    public static WorkerReport ToReport(Contents c)
    {
        var report = new WorkerReport(c.WorkerId, c.Device)
        {
            Steps = c.Steps, StepsAbandoned = c.StepsAbandoned, FusedPulls = c.FusedPulls, ComputeSeconds = c.ComputeSeconds, PullSeconds = c.PullSeconds,
            PushSeconds = c.PushSeconds, BytesPulled = c.BytesPulled, PushSlotVersion = c.PushSlotVersion, SlotWaitSeconds = c.SlotWaitSeconds,
        };
        report.AddBytesPushed(c.BytesPushed);
        report.AddCompressSeconds(c.CompressSeconds);
        for (long i = 0; i < c.PushesDropped; i++) report.CountDroppedPush();
        foreach (double latency in c.PushLatencies) report.RecordPushLatency(latency);
        foreach (var phases in c.StepPhases ?? []) report.RecordStep(phases);
        return report;
    }

    /// <summary>Reads a report file.</summary>
    /// <exception cref="InvalidDataException">The file is not a worker report.</exception>
    public static Contents Read(string path) =>
        JsonSerializer.Deserialize<Contents>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} is not a worker report");
}
