using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using ModelKind = GpuPs.Kernels.ModelKind;

namespace GpuPs.Core.Tests.Training;

public class JobSpecWireTests
{
    [Theory]
    [InlineData("bsp", ModelKind.Softmax)]
    [InlineData("coded", ModelKind.Mlp)]
    [InlineData("ssp", ModelKind.Logistic)]
    public void A_job_survives_the_trip_over_the_wire(string mode, ModelKind model)
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=200,features=5,classes=2", Model: model, Hidden: 7,
            Workers: 4, Mode: mode, Stragglers: mode == "coded" ? 1 : 0, Staleness: 3, Steps: 9, BatchSize: 8, Seed: 77,
            StragglerModel: "bimodal:p=0.1,delay=0.2", HeartbeatTimeoutMs: 1234, StepTimeoutMs: 5678));

        var back = JobSpecWire.FromWire(JobSpecWire.ToWire(job));

        Assert.Equal(job, back);
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
}
