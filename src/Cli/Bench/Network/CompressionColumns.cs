using GpuPs.Cli.Cluster;
using GpuPs.Cli.Commands;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;

namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// The columns a compressed (or accuracy-measuring) <c>bench network</c> run adds: the final model's test accuracy (the
/// model the bench pulls once the workers are done, outside the timed steps), and from the workers' report files their
/// compression CPU time and the bytes they pushed and pulled, per step.
/// </summary>
internal static class CompressionColumns
{
    public static NetworkBenchmarkRow Add(NetworkBenchmarkRow row, string compression, TrainSettings settings,
        IReadOnlyList<WorkerReportFile.Contents> workers, float[] parameters)
    {
        var job = JobFactory.CreateJob(settings);
        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        using var evaluator = new ModelEvaluator(data, job.Model);
        var (_, test) = evaluator.Evaluate(parameters);
        double steps = row.Steps;
        return row with
        {
            Compression = compression, TestAccuracy = test.Accuracy,
            CompressCpuSPerStep = workers.Sum(w => w.CompressSeconds) / steps,
            PushedMBPerStep = workers.Sum(w => w.BytesPushed) / steps / 1e6,
            PulledMBPerStep = workers.Sum(w => w.BytesPulled) / steps / 1e6,
        };
    }
}
