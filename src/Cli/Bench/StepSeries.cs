using GpuPs.Cli.Cluster;

namespace GpuPs.Cli.Bench;

/// <summary>
/// Per-step wall times and training losses of one run, as shard 0 recorded them (<see cref="TrainResult.StepSeconds"/>,
/// <see cref="TrainResult.StepLoss"/>). A synchronous shard closes one step per update; an ASP/SSP shard updates once per
/// push, so its updates are grouped in rounds of n (times summed, losses averaged): a round then carries as many
/// gradients as a synchronous step, and its time is comparable.
/// </summary>
public sealed record StepSeries(IReadOnlyList<double> Seconds, IReadOnlyList<double> Loss)
{
    /// <summary>The steps (or rounds of <paramref name="updatesPerStep"/> updates) of <paramref name="result"/>; a trailing
    /// incomplete round is left out.</summary>
    public static StepSeries From(TrainResult result, int updatesPerStep)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(updatesPerStep, 1);
        int steps = Math.Min(result.StepSeconds.Count, result.StepLoss.Count) / updatesPerStep;
        var seconds = new double[steps];
        var loss = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            for (int u = i * updatesPerStep; u < (i + 1) * updatesPerStep; u++)
            {
                seconds[i] += result.StepSeconds[u];
                loss[i] += result.StepLoss[u];
            }
            loss[i] /= updatesPerStep;
        }
        return new StepSeries(seconds, loss);
    }

    /// <summary>Step times after the first <paramref name="warmup"/> steps, sorted ascending.</summary>
    public double[] SortedTimes(int warmup) => Seconds.Skip(warmup).Order().ToArray();

    /// <summary>
    /// Seconds from the close of step 0 (which includes cluster start-up) to the close of the first step whose training
    /// loss is at most <paramref name="target"/>; null when no step reaches it. The loss of a step is the mean loss of the
    /// batches whose gradients it applied, so it is measured at the parameters the step started from.
    /// </summary>
    public double? TimeToLoss(double target)
    {
        double elapsed = 0;
        for (int i = 0; i < Loss.Count; i++)
        {
            if (i > 0) elapsed += Seconds[i];
            if (Loss[i] <= target) return elapsed;
        }
        return null;
    }

    /// <summary>Mean loss of the last <paramref name="steps"/> steps: one step's loss is one batch's, too noisy to stand alone.</summary>
    public double FinalLoss(int steps = 5) => Loss.Skip(Math.Max(0, Loss.Count - steps)).Average();

    /// <summary>The <paramref name="q"/>-quantile of ascending <paramref name="sorted"/>, interpolating linearly between ranks.</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return double.NaN;
        double rank = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }
}
