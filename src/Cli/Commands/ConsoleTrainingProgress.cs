using GpuPs.Cli.Cluster;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// Progress of <c>gpups train</c>: a live progress bar whose description shows the last evaluation when the terminal
/// is interactive (with the time remaining), else one plain line per evaluation with an ETA (CI logs, pipes).
/// </summary>
public sealed class ConsoleTrainingProgress(ProgressTask? bar, TextWriter? lines = null) : ITrainingProgress
{
    private readonly TextWriter _lines = lines ?? Console.Out;
    private long _total;
    private string _description = "";

    public void Started(long totalSteps, string description)
    {
        _total = totalSteps;
        _description = description;
        if (bar is null) _lines.WriteLine($"training {description}: {totalSteps} steps per worker");
        else
        {
            bar.MaxValue = totalSteps;
            bar.Description = Markup.Escape(description);
        }
    }

    public void Advanced(long step)
    {
        if (bar is not null) bar.Value = Math.Min(step, _total);
    }

    public void Evaluated(EpochRecord r)
    {
        string line = $"epoch {r.Epoch,6:F2}  step {r.Step,6}/{_total}  train loss {r.TrainLoss:F4}  test loss {r.TestLoss:F4}  test acc {r.TestAccuracy:F4}  ({r.WallSeconds:F1} s{Eta(r)})";
        if (bar is null) _lines.WriteLine(line);
        else bar.Description = Markup.Escape($"{_description} | epoch {r.Epoch:F1} test acc {r.TestAccuracy:F4}");
    }

    /// <summary>", ETA 12 s": the time left at the pace so far (steps so far over wall time so far, start-up included).</summary>
    private string Eta(EpochRecord r) =>
        r.Step <= 0 || r.Step >= _total ? "" : $", ETA {r.WallSeconds * (_total - r.Step) / r.Step:F0} s";
}
