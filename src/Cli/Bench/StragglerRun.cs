using GpuPs.Cli.Cluster;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench;

/// <summary>One finished training run of the straggler benchmark: what was run and what the cluster reported.</summary>
/// <param name="Scheme">Aggregation scheme.</param>
/// <param name="S">Stragglers tolerated (0 for the schemes that ignore s).</param>
/// <param name="Delay">Straggler model spec as the benchmark names it (normalised, without the unit).</param>
/// <param name="Model">The injector the workers used (unit included), for the bound.</param>
/// <param name="Steps">Shard 0's step times and losses (rounds of n updates for ASP/SSP).</param>
/// <param name="Result">The training run's full result.</param>
public sealed record StragglerRun(StragglerScheme Scheme, int S, string Delay, StragglerInjector Model, StepSeries Steps, TrainResult Result)
{
    /// <summary>
    /// Real gradient compute per partition in seconds, averaged over the workers that computed: a worker's compute time
    /// divided by the steps whose compute it finished (pushed, or cancelled in flight — abandoned steps add no compute),
    /// its load and its throttle repeats, so that a throttled worker's excess is not counted twice by the bound.
    /// </summary>
    public double ComputePerPartition
    {
        get
        {
            int load = Scheme.Load(S);
            var perWorker = Result.WorkerReports
                .Where(w => w.Steps > 0)
                .Select(w => w.ComputeSeconds / (w.Steps * load * (double)Model.ComputeRepeats(w.WorkerId)))
                .ToList();
            return perWorker.Count == 0 ? 0 : perWorker.Average();
        }
    }
}
