using GpuPs.Core.Data;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using ModelKind = GpuPs.Kernels.ModelKind;

namespace GpuPs.Core.Tests.Training;

public class JobBuilderTests
{
    [Theory]
    [InlineData(1797, 0.2)]
    [InlineData(603, 0.2)]
    [InlineData(10, 0.01)]
    [InlineData(10, 0.99)]
    public void The_training_rows_it_derives_without_data_are_those_the_split_keeps(int rows, double testFraction)
    {
        var data = SyntheticDataset.GaussianMixture(rows, features: 3, classes: 2, seed: 4);

        Assert.Equal(TrainTestSplit.Split(data, testFraction, seed: 4).Train.Rows, TrainTestSplit.TrainRows(rows, testFraction));
    }

    [Fact]
    public void The_default_job_sizes_its_model_and_steps_from_the_prepared_data()
    {
        var definition = new JobDefinition();
        var job = JobBuilder.Build(definition);
        var data = PreparedData.Prepare(definition.Dataset, definition.TestFraction, definition.Seed);

        Assert.Equal(data.FeatureCount, job.Model.Features);
        Assert.Equal(data.ClassCount, job.Model.Classes);
        Assert.Equal(new ModelShape(ModelKind.Softmax, data.FeatureCount, data.ClassCount).ParameterCount, job.ParameterCount);
        Assert.Equal(definition.Epochs * TrainingJob.StepsPerEpoch(data.Train.Rows, definition.Workers, definition.BatchSize), job.Steps);
    }

    [Fact]
    public void A_job_on_a_data_set_too_large_to_load_here_is_built_without_loading_it()
    {
        // 10^6 x 1000 floats would be 4 GB; describing the spec allocates nothing of the sort.
        var definition = new JobDefinition(Dataset: "synthetic:rows=1000000,features=1000,classes=2", Model: ModelKind.Logistic, Steps: 10);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var job = JobBuilder.Build(definition);

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "building the job allocated like loading the data");
        Assert.Equal(1000, job.Model.Features);
        Assert.Equal(new ModelShape(ModelKind.Logistic, 1000, 2).ParameterCount, job.ParameterCount);
    }

    [Theory]
    [InlineData("synthetic:rows=20", 17, 0.2, "17 workers but only 16 training rows")]
    [InlineData("synthetic:rows=20", 0, 0.2, "workers must be at least 1")]
    [InlineData("synthetic:rows=20,classes=30", 2, 0.2, "30 classes")]
    public void Impossible_jobs_are_refused_in_one_line(string dataset, int workers, double testFraction, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => JobBuilder.Build(new JobDefinition(Dataset: dataset, Workers: workers, TestFraction: testFraction)));

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Bf16_on_the_wire_is_refused_for_the_coded_mode_and_unknown_formats_are_named()
    {
        var coded = Assert.Throws<ArgumentException>(() => JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Mode: "coded",
            Stragglers: 1, Steps: 1, WireFormat: "bf16")));
        var unknown = Assert.Throws<ArgumentException>(() => JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1, WireFormat: "fp8")));

        Assert.Contains("exact decode of the coded mode", coded.Message);
        Assert.Contains("use f32 or bf16", unknown.Message);
        Assert.Equal(TensorEncoding.BFloat16, JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1, WireFormat: "bf16")).WireFormat);
    }

    [Fact]
    public void A_round_robin_schedule_crosses_the_wire_and_bad_schedules_are_refused_by_name()
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1, Schedule: "round-robin", PushConcurrency: 3));
        var unknown = Assert.Throws<ArgumentException>(() => JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1, Schedule: "fifo")));
        var none = Assert.Throws<ArgumentException>(() => JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1, PushConcurrency: 0)));

        var back = JobSpecWire.FromWire(JobSpecWire.ToWire(job));
        Assert.Equal((PushSchedule.RoundRobin, 3), (back.Schedule, back.PushConcurrency));
        Assert.Equal("round-robin", JobSpecWire.ToWire(job).Schedule);
        Assert.Contains("use simultaneous or round-robin", unknown.Message);
        Assert.Contains("push concurrency must be at least 1", none.Message);
        Assert.Equal(PushSchedule.Simultaneous, JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100", Steps: 1)).Schedule);
    }

    [Fact]
    public void Each_shard_starts_from_its_slice_of_the_seeded_initial_model()
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100,features=9,classes=3", Steps: 1));
        var full = ModelInitializer.Initialize(job.Model, job.Seed);

        var slices = ShardLayout.Compute(job.ParameterCount, 3).SelectMany(info => JobBuilder.InitialParameters(job, info));

        Assert.Equal(full, slices);
    }
}
