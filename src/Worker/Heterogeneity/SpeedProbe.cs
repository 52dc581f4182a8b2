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
    /// Time the probe runs before it measures (at least one run, which compiles a GPU kernel or JITs the SIMD path): 100 ms,
    /// so that what it measures is past the JIT's first tier, not a cold kernel — with a single warm-up run the probes
    /// measured 7-26 k rows/s where the steps then ran at 70-400 k (cgroup bench, docs/benchmarks.md).
    /// </summary>
    public static readonly TimeSpan WarmupTime = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Length of one measuring window: 250 ms. Under a CPU quota a process runs in slices of a period (10 ms in
    /// <c>bench hetero</c>), so a probe of T seconds can be off by up to one period over T: the 50 ms used before put the
    /// first assignment's shares 10-15 % off in both directions in two 1:2:4 cgroup runs (the slowest worker computed 276
    /// ms a step in one, 420 in the other, against 374 and 364 for the fastest); at 250 ms the slicing is 4 % at most.
    /// </summary>
    public static readonly TimeSpan MinimumTime = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Two windows in a row whose rates agree within 10 % end the probe (their mean is the speed): a kernel whose JIT
    /// has not settled still speeds up from one window to the next. On a tiny CPU quota that takes seconds (the 10-worker
    /// cgroup mix, 0.0375 of a CPU: the slowest workers' steps kept speeding up until step ~19 and published versions
    /// on the way).
    /// </summary>
    public const double Agreement = 0.10;

    /// <summary>Windows measured at most: 12 (3 s), what one worker may add to the cluster's start (every worker waits for the slowest probe).</summary>
    public const int MaxWindows = 12;

    /// <summary>
    /// Measures rows per second on <paramref name="kernel"/> — windows of <see cref="MinimumTime"/> after
    /// <see cref="WarmupTime"/>, until two in a row agree (<see cref="Agreement"/>) or <see cref="MaxWindows"/> — leaving it
    /// loaded with the sample (the caller loads its partitions next); each run computes the sample
    /// <paramref name="computeRuns"/> times and counts it once.
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
        long warmup = time.GetTimestamp();
        do Run(kernel, rows, computeRuns);
        while (time.GetElapsedTime(warmup) < WarmupTime);
        double previous = Window(kernel, rows, computeRuns, time), rate = previous;
        for (int window = 1; window < MaxWindows; window++)
        {
            rate = Window(kernel, rows, computeRuns, time);
            if (Math.Abs(rate / previous - 1) <= Agreement) return (rate + previous) / 2;
            previous = rate;
        }
        return rate;
    }

    /// <summary>Rows per second over runs of at least <see cref="MinimumTime"/> (and two runs).</summary>
    private static double Window(IGradientKernel kernel, int rows, int computeRuns, TimeProvider time)
    {
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
