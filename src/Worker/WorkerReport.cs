namespace GpuPs.Worker;

/// <summary>What one worker did in a run.</summary>
public sealed class WorkerReport(int workerId, string device)
{
    public int WorkerId { get; } = workerId;
    public string Device { get; } = device;
    public long Steps { get; set; }
    public double LastMeanLoss { get; set; } = double.NaN;
    public double ComputeSeconds { get; set; }
    public double PullSeconds { get; set; }
    public double PushSeconds { get; set; }
}
