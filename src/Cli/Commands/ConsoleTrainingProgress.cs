using GpuPs.Cli.Cluster;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// Progress of <c>gpups train</c>: a live progress bar whose description shows the last evaluation when the terminal
/// is interactive, else one plain line per evaluation (CI logs, pipes).
/// </summary>
public sealed class ConsoleTrainingProgress(ProgressTask? bar) : ITrainingProgress
{
    private long _total;
    private string _description = "";

    public void Started(long totalSteps, string description)
    {
        _total = totalSteps;
        _description = description;
        if (bar is null) Console.WriteLine($"training {description}: {totalSteps} steps per worker");
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
        string line = $"epoch {r.Epoch,6:F2}  step {r.Step,6}/{_total}  train loss {r.TrainLoss:F4}  test loss {r.TestLoss:F4}  test acc {r.TestAccuracy:F4}  ({r.WallSeconds:F1} s)";
        if (bar is null) Console.WriteLine(line);
        else bar.Description = Markup.Escape($"{_description} | epoch {r.Epoch:F1} test acc {r.TestAccuracy:F4}");
    }
}
