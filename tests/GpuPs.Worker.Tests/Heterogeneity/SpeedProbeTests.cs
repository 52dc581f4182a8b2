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
    // 10 ms a batch, 3 a run (30 ms): 4 warm-up runs (100 ms), then windows of 9 runs (270 ms); the first two agree.
    [InlineData(10, 3, 4 + 9 + 9, 9, 270)]
    // 1 ms a batch: 100 warm-up runs, then two windows of 250 runs (250 ms).
    [InlineData(1, 1, 100 + 250 + 250, 250, 250)]
    // 100 ms a batch: one run passes the warm-up; a window takes 3 runs (300 ms).
    [InlineData(100, 1, 1 + 3 + 3, 3, 300)]
    public void The_speed_is_that_of_two_agreeing_windows_of_at_least_250_ms_after_a_100_ms_warm_up(
        int batchMs, int computeRuns, int runs, int windowRuns, int windowMs)
    {
        var train = Train(3000);
        var kernel = new ClockedKernel(new ManualTimeProvider(), TimeSpan.FromMilliseconds(batchMs));

        double speed = SpeedProbe.Measure(kernel, train, Job, computeRuns, kernel.Clock);

        // Each run computes the sample computeRuns times (a throttled worker measures itself throttled) and counts once.
        Assert.Equal(runs * computeRuns, kernel.Batches.Count);
        Assert.Equal(SpeedProbe.SampleRows * (double)windowRuns / (windowMs / 1000.0), speed, 6);
    }

    [Fact]
    public void A_kernel_still_speeding_up_is_measured_until_two_windows_agree()
    {
        // 40 ms a batch for the warm-up (3) and the first window (7), 20 ms for the second (13), then 10 ms: the third
        // window (25 runs) disagrees with the second by 2x, the fourth agrees with the third.
        var train = Train(3000);
        var clock = new ManualTimeProvider();
        var kernel = new ClockedKernel(clock, TimeSpan.Zero) { Next = n => TimeSpan.FromMilliseconds(n < 10 ? 40 : n < 23 ? 20 : 10) };

        double speed = SpeedProbe.Measure(kernel, train, Job, computeRuns: 1, clock);

        Assert.Equal(3 + 7 + 13 + 25 + 25, kernel.Batches.Count);
        Assert.Equal(SpeedProbe.SampleRows / 0.010, speed, 6);   // the settled kernel, not the 40 ms of its first runs
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
        /// <summary>The time of batch n (0-based), when set: else <c>perBatch</c>.</summary>
        public Func<int, TimeSpan>? Next { get; init; }
        public double ComputeAndDiscardGradient(int start, int count)
        {
            clock.Advance(Next?.Invoke(Batches.Count) ?? perBatch);
            Batches.Add((start, count));
            return 0;
        }
        public double AddGradient(int start, int count, float scale = 1f) => throw new InvalidOperationException("the probe keeps no gradient");
        public void ReadGradient(Span<float> gradient) => throw new InvalidOperationException("the probe keeps no gradient");
        public EvaluationResult Evaluate(int start, int count) => throw new InvalidOperationException("the probe evaluates nothing");
        public bool ComputesBlocks => false;
        public BlockRows AddBlockRows(int start, int count) => throw new InvalidOperationException("the probe keeps no gradient");
        public void ReadGradientBlock(int keyStart, Span<float> destination, float scale) => throw new InvalidOperationException("the probe keeps no gradient");
        public void Dispose() { }
    }
}
