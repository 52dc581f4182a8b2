using GpuPs.Core.Compression;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using ModelKind = GpuPs.Kernels.ModelKind;
using WireModel = GpuPs.Protocol.ModelKind;

namespace GpuPs.Core.Tests.Training;

/// <summary>
/// The job on the wire (<c>JobSpec</c>): every setting survives the round trip, a spec from a peer that leaves newer
/// fields unset reads as the defaults, and a spec that describes no valid job, another model size or no mode is refused.
/// </summary>
public class JobSpecWireTests
{
    [Theory]
    [InlineData("bsp", ModelKind.Softmax)]
    [InlineData("coded", ModelKind.Mlp)]
    [InlineData("ssp", ModelKind.Logistic)]
    [InlineData("coded", ModelKind.Softmax, "cyclic")]
    public void A_job_survives_the_trip_over_the_wire(string mode, ModelKind model, string code = "auto")
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=200,features=5,classes=2", Model: model, Hidden: 7,
            Workers: 4, Mode: mode, Code: code, Stragglers: mode == "coded" ? 1 : 0, Staleness: 3, Steps: 9, BatchSize: 8, Seed: 77,
            StragglerModel: "bimodal:p=0.1,delay=0.2", HeartbeatTimeoutMs: 1234, StepTimeoutMs: 5678, PieceFloats: 3));

        var back = JobSpecWire.FromWire(JobSpecWire.ToWire(job));

        Assert.Equal(job, back);
        Assert.Equal(3, back.PieceFloats);
        Assert.Equal(code, back.Code);
        Assert.Same(SyncModes.Parse(mode), back.Mode);
    }

    [Fact]
    public void A_spec_whose_parameter_count_does_not_match_its_model_is_refused()
    {
        var spec = JobSpecWire.ToWire(JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=50,features=3,classes=2", Steps: 1)));
        spec.ParameterCount += 1;

        var e = Assert.Throws<ArgumentException>(() => JobSpecWire.FromWire(spec));

        Assert.Contains("does not match the model", e.Message);
    }

    [Fact]
    public void A_spec_without_a_mode_is_refused_naming_the_modes()
    {
        var spec = JobSpecWire.ToWire(JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=50,features=3,classes=2", Steps: 1)));
        spec.Mode = SyncMode.Unspecified;

        var e = Assert.Throws<ArgumentException>(() => JobSpecWire.FromWire(spec));

        Assert.Contains("bsp, asp, ssp, coded, multi-message, backup", e.Message);
    }

    private static TrainingJob Job(ModelShape model, string mode = "bsp") => new()
    {
        Model = model, Mode = SyncModes.Parse(mode), Workers = 4, Steps = 120, Dataset = "digits", BatchSize = 32, Seed = 7,
        TestFraction = 0.25, HeartbeatTimeoutMs = 4000, StepTimeoutMs = 9000,
    };

    public static TheoryData<string> Jobs => ["mlp, proportional, round-robin bf16", "softmax, top-k pushes only", "logistic ssp, sign pulls only"];

    [Theory]
    [MemberData(nameof(Jobs))]
    public void Compression_assignment_schedule_and_wire_format_survive_the_trip_over_the_wire(string name)
    {
        var job = name switch
        {
            "mlp, proportional, round-robin bf16" => Job(new ModelShape(ModelKind.Mlp, 64, 10, 32)) with
            {
                Assignment = AssignmentPolicy.Proportional, Schedule = PushSchedule.RoundRobin, PushConcurrency = 2,
                WireFormat = TensorEncoding.BFloat16, StragglerModel = "persistent:count=1,factor=3",
            },
            "softmax, top-k pushes only" => Job(new ModelShape(ModelKind.Softmax, 64, 10)) with
            {
                Compression = new CompressionSettings(Push: CompressionKind.TopK, TopKRatio: 0.05, Momentum: 0.9),
            },
            _ => Job(new ModelShape(ModelKind.Logistic, 30, 2), "ssp") with
            {
                Staleness = 3, Compression = new CompressionSettings(Pull: CompressionKind.Sign, FullPullEvery: 7),
            },
        };

        var spec = JobSpecWire.ToWire(job);
        var back = JobSpecWire.FromWire(spec);

        Assert.Equal(job, back);
        Assert.Equal(job.ParameterCount, spec.ParameterCount);
        Assert.Equal(job.Assignment == AssignmentPolicy.Uniform ? "" : "proportional", spec.Assignment);
        Assert.Equal(job.Compression.Push == CompressionKind.None ? "" : "topk", spec.Compression);
        Assert.Equal(job.Compression.Pull == CompressionKind.None ? "" : "sign", spec.PullCompression);
    }

    [Fact]
    public void A_spec_that_leaves_newer_fields_unset_reads_as_their_defaults()
    {
        var spec = JobSpecWire.ToWire(Job(new ModelShape(ModelKind.Softmax, 64, 10)));
        (spec.Code, spec.StragglerModel, spec.PushConcurrency, spec.Assignment, spec.Compression, spec.PullCompression, spec.Hidden) =
            ("", "", 0, "", "", "", 99);   // a hidden size on a model without a hidden layer is not read

        var job = JobSpecWire.FromWire(spec);

        Assert.Equal(("auto", "none", 1, AssignmentPolicy.Uniform), (job.Code, job.StragglerModel, job.PushConcurrency, job.Assignment));
        Assert.Same(CompressionSettings.None, job.Compression);
        Assert.Equal(0, job.Model.Hidden);
        Assert.Equal("", JobSpecWire.ToWire(job).Compression);
    }

    [Fact]
    public void A_spec_of_no_valid_job_or_of_an_unknown_model_is_refused()
    {
        var good = JobSpecWire.ToWire(Job(new ModelShape(ModelKind.Softmax, 64, 10)));
        var noWorkers = good.Clone();
        noWorkers.Workers = 0;
        var unknown = good.Clone();
        unknown.Model = (WireModel)42;

        Assert.ThrowsAny<ArgumentException>(() => JobSpecWire.FromWire(noWorkers));
        Assert.Contains("model must be logistic, softmax or mlp", Assert.ThrowsAny<ArgumentException>(() => JobSpecWire.FromWire(unknown)).Message);
    }
}
