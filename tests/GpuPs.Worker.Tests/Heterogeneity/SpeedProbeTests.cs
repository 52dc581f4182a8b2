using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Heterogeneity;
using GpuPs.Worker.Tests.Fakes;

namespace GpuPs.Worker.Tests.Heterogeneity;

/// <summary>
/// The first speed estimate of a proportional worker, on a manual clock that the kernel moves by a fixed time per
/// batch: which rows it loads, which parameters, how often it computes, and the rows per second it reports, exactly.
/// </summary>
public class SpeedProbeTests
{
    private static readonly TrainingJob Job = SmallJob.Softmax(Protocol.SyncMode.Bsp, workers: 2, steps: 1);

    private static Dataset Train(int rows) =>
        PreparedData.Prepare($"synthetic:rows={rows},features=6,classes=3", testFraction: 0.2, seed: 5).Train;

    [Theory]
    [InlineData(3000, 2048)]   // a large set (2,400 training rows): the first SampleRows rows
    [InlineData(300, 240)]     // a small one: all of it
    public void The_probe_loads_the_first_rows_and_the_job_s_initial_model_and_computes_every_loaded_row(int datasetRows, int sampleRows)
    {
        var train = Train(datasetRows);
        var kernel = new ClockedKernel(new ManualTimeProvider(), TimeSpan.FromMilliseconds(10));

        SpeedProbe.Measure(kernel, train, Job, computeRuns: 1, kernel.Clock);

        Assert.Equal(sampleRows, kernel.Rows);
        Assert.Equal(train.Features.AsSpan(0, sampleRows * train.FeatureCount).ToArray(), kernel.Features);
        Assert.Equal(train.Labels.AsSpan(0, sampleRows).ToArray(), kernel.Labels);
        Assert.Equal(ModelInitializer.Initialize(Job.Model, Job.Seed), kernel.Parameters);
        Assert.All(kernel.Batches, b => Assert.Equal((0, sampleRows), b));
    }

    [Theory]
    // 10 ms a batch, 3 batches a run: a warm-up, then runs until 50 ms of kernel time: 2 runs in 60 ms.
    [InlineData(10, 3, 1 + 2, 2, 60)]
    // 1 ms a batch: a warm-up, then 50 runs (50 ms).
    [InlineData(1, 1, 1 + 50, 50, 50)]
    // 100 ms a batch: the first run alone passes 50 ms, but a probe takes at least two.
    [InlineData(100, 1, 1 + 2, 2, 200)]
    public void The_speed_is_the_sample_rows_of_at_least_two_timed_runs_over_their_kernel_time_with_the_warm_up_left_out(
        int batchMs, int computeRuns, int runsWithWarmUp, int timedRuns, int timedMs)
    {
        var train = Train(3000);
        var kernel = new ClockedKernel(new ManualTimeProvider(), TimeSpan.FromMilliseconds(batchMs));

        double speed = SpeedProbe.Measure(kernel, train, Job, computeRuns, kernel.Clock);

        // Each run computes the sample computeRuns times (a throttled worker measures itself throttled) and counts once.
        Assert.Equal(runsWithWarmUp * computeRuns, kernel.Batches.Count);
        Assert.Equal(SpeedProbe.SampleRows * (double)timedRuns / (timedMs / 1000.0), speed, 6);
    }

    /// <summary>Records what it is given; every batch computed moves the clock by <c>perBatch</c>.</summary>
    private sealed class ClockedKernel(ManualTimeProvider clock, TimeSpan perBatch) : IGradientKernel
    {
        public ManualTimeProvider Clock => clock;
        public float[] Features = [];
        public int[] Labels = [];
        public float[] Parameters = [];
        public readonly List<(int Start, int Count)> Batches = [];
        public ModelShape Shape => Job.Model;
        public int Rows => Labels.Length;
        public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels) => (Features, Labels) = (features.ToArray(), labels.ToArray());
        public void LoadParameters(ReadOnlySpan<float> parameters) => Parameters = parameters.ToArray();
        public double ComputeAndDiscardGradient(int start, int count)
        {
            Batches.Add((start, count));
            clock.Advance(perBatch);
            return 0;
        }
        public double AddGradient(int start, int count, float scale = 1f) => throw new InvalidOperationException("the probe keeps no gradient");
        public void ReadGradient(Span<float> gradient) => throw new InvalidOperationException("the probe keeps no gradient");
        public EvaluationResult Evaluate(int start, int count) => throw new InvalidOperationException("the probe evaluates nothing");
        public void Dispose() { }
    }
}
