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
    private EpochRecord? _first;

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

    /// <summary>
    /// ", ETA 12 s": the time left at the pace since the first evaluation (the first one's own pace includes the cluster's
    /// start-up: the README's digits job printed "ETA 51 s" after 2.7 s, 2.6 of them start-up, and ended 0.2 s later).
    /// </summary>
    private string Eta(EpochRecord r)
    {
        _first ??= r;
        var (from, seconds) = r.Step > _first.Step ? (_first.Step, r.WallSeconds - _first.WallSeconds) : (0L, r.WallSeconds);
        return r.Step <= 0 || r.Step >= _total ? "" : $", ETA {seconds * (_total - r.Step) / (r.Step - from):F0} s";
    }
}
