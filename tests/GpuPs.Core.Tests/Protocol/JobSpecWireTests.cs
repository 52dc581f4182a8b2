using GpuPs.Core.Compression;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using WireModel = GpuPs.Protocol.ModelKind;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// The job on the wire (<c>JobSpec</c>): every setting survives the round trip, a spec from a peer that leaves newer
/// fields unset reads as the defaults, and a spec that describes no valid job or another model size is refused.
/// </summary>
public class JobSpecWireTests
{
    private static TrainingJob Job(ModelShape model, string mode = "bsp") => new()
    {
        Model = model, Mode = SyncModes.Parse(mode), Workers = 4, Steps = 120, Dataset = "digits", BatchSize = 32, Seed = 7,
        TestFraction = 0.25, HeartbeatTimeoutMs = 4000, StepTimeoutMs = 9000,
    };

    public static TheoryData<string> Jobs => ["mlp, proportional, round-robin bf16", "softmax, top-k pushes only", "logistic ssp, sign pulls only"];

    [Theory]
    [MemberData(nameof(Jobs))]
    public void Every_setting_survives_the_round_trip(string name)
    {
        var job = name switch
        {
            "mlp, proportional, round-robin bf16" => Job(new ModelShape(Kernels.ModelKind.Mlp, 64, 10, 32)) with
            {
                Assignment = AssignmentPolicy.Proportional, Schedule = PushSchedule.RoundRobin, PushConcurrency = 2,
                WireFormat = TensorEncoding.BFloat16, StragglerModel = "persistent:count=1,factor=3",
            },
            "softmax, top-k pushes only" => Job(new ModelShape(Kernels.ModelKind.Softmax, 64, 10)) with
            {
                Compression = new CompressionSettings(Push: CompressionKind.TopK, TopKRatio: 0.05, Momentum: 0.9),
            },
            _ => Job(new ModelShape(Kernels.ModelKind.Logistic, 30, 2), "ssp") with
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
        var spec = JobSpecWire.ToWire(Job(new ModelShape(Kernels.ModelKind.Softmax, 64, 10)));
        (spec.Code, spec.StragglerModel, spec.PushConcurrency, spec.Assignment, spec.Compression, spec.PullCompression, spec.Hidden) =
            ("", "", 0, "", "", "", 99);   // a hidden size on a model without a hidden layer is not read

        var job = JobSpecWire.FromWire(spec);

        Assert.Equal(("auto", "none", 1, AssignmentPolicy.Uniform), (job.Code, job.StragglerModel, job.PushConcurrency, job.Assignment));
        Assert.Same(CompressionSettings.None, job.Compression);
        Assert.Equal(0, job.Model.Hidden);
        Assert.Equal("", JobSpecWire.ToWire(job).Compression);
    }

    [Fact]
    public void A_spec_of_no_valid_job_another_model_size_or_an_unknown_model_is_refused()
    {
        var good = JobSpecWire.ToWire(Job(new ModelShape(Kernels.ModelKind.Softmax, 64, 10)));
        var noWorkers = good.Clone();
        noWorkers.Workers = 0;
        var otherSize = good.Clone();
        otherSize.ParameterCount++;
        var unknown = good.Clone();
        unknown.Model = (WireModel)42;

        Assert.ThrowsAny<ArgumentException>(() => JobSpecWire.FromWire(noWorkers));
        Assert.Contains($"parameter count {good.ParameterCount + 1} does not match the model ({good.ParameterCount})",
            Assert.ThrowsAny<ArgumentException>(() => JobSpecWire.FromWire(otherSize)).Message);
        Assert.Contains("model must be logistic, softmax or mlp", Assert.ThrowsAny<ArgumentException>(() => JobSpecWire.FromWire(unknown)).Message);
    }
}
