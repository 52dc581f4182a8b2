using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;

namespace GpuPs.Worker.Heterogeneity;

/// <summary>
/// A worker's first speed estimate, before it holds any partition: rows per second of its own gradient kernel on the
/// first rows of the training set, at the job's model and the step hook's compute runs (a throttled worker measures
/// itself throttled). The steps that follow replace it with their own measurement.
/// </summary>
public static class SpeedProbe
{
    /// <summary>Rows the probe computes per run: enough for ~1 ms on a CPU core at the models here, a few kernel launches on a GPU.</summary>
    public const int SampleRows = 2048;

    /// <summary>
    /// Kernel time the probe runs for at least, after one warm-up run (which compiles a GPU kernel or JITs the SIMD path):
    /// 50 ms, about 5% of a typical registration.
    /// </summary>
    public static readonly TimeSpan MinimumTime = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Measures rows per second on <paramref name="kernel"/>, leaving it loaded with the sample (the caller loads its
    /// partitions next); each run computes the sample <paramref name="computeRuns"/> times and counts it once.
    /// </summary>
    /// <param name="kernel">The worker's gradient kernel.</param>
    /// <param name="train">The training set; the probe computes its first <see cref="SampleRows"/> rows.</param>
    /// <param name="job">The job, for its model and seed.</param>
    /// <param name="computeRuns">How many times the step hook makes this worker compute each batch (a throttled worker).</param>
    /// <param name="time">The clock the kernel time is read from (the system's when null).</param>
    public static double Measure(IGradientKernel kernel, Dataset train, TrainingJob job, int computeRuns, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        int rows = Math.Min(train.Rows, SampleRows);
        var sample = train.Select(Enumerable.Range(0, rows).ToArray(), "speed probe");
        kernel.SetData(sample.Features, sample.Labels);
        kernel.LoadParameters(ModelInitializer.Initialize(job.Model, job.Seed));
        Run(kernel, rows, computeRuns);   // warm-up
        long began = time.GetTimestamp();
        long runs = 0;
        TimeSpan elapsed;
        do
        {
            Run(kernel, rows, computeRuns);
            runs++;
        } while ((elapsed = time.GetElapsedTime(began)) < MinimumTime || runs < 2);
        return rows * runs / elapsed.TotalSeconds;
    }

    private static void Run(IGradientKernel kernel, int rows, int computeRuns)
    {
        for (int r = 1; r < computeRuns; r++) kernel.ComputeAndDiscardGradient(0, rows);
        kernel.ComputeAndDiscardGradient(0, rows);
    }
}
