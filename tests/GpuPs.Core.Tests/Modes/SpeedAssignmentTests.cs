using GpuPs.Core.Coding;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Tests.Modes;

/// <summary>
/// A mode's assignment by measured speeds (<see cref="ISyncMode.Assignment(TrainingJob, IReadOnlyList{double})"/>): a mode
/// that assigns uniformly refuses it by name, and a coded job that names the optimal heterogeneity-aware code gets the
/// group code wherever the optimal one cannot be built.
/// </summary>
public class SpeedAssignmentTests
{
    private static readonly double[] Speeds = [1, 1, 2, 3];

    private static TrainingJob Job(SyncMode mode, int stragglers = 0, string code = "auto") => new()
    {
        Model = new Kernels.ModelShape(Kernels.ModelKind.Logistic, 7, 2), Mode = SyncModes.Of(mode), Workers = Speeds.Length, Steps = 10, Dataset = "synthetic",
        Stragglers = stragglers, Code = code,
    };

    [Theory]
    [InlineData(SyncMode.Asp)]
    [InlineData(SyncMode.Ssp)]
    [InlineData(SyncMode.MultiMessage)]
    public void A_mode_that_assigns_uniformly_refuses_an_assignment_by_speed_by_its_name(SyncMode id)
    {
        var mode = SyncModes.Of(id);

        Assert.False(mode.AssignsBySpeed);
        var e = Assert.Throws<InvalidOperationException>(() => mode.Assignment(Job(id), Speeds));
        Assert.Contains($"the {mode.Name} mode assigns uniformly, not by speed", e.Message);
    }

    [Fact]
    public void A_coded_job_naming_the_optimal_code_gets_the_group_code_where_the_optimal_one_cannot_be_built()
    {
        var coded = SyncModes.Of(SyncMode.Coded);

        Assert.IsType<OptimalHeterogeneousCode>(coded.Assignment(Job(SyncMode.Coded, stragglers: 1, OptimalHeterogeneousCode.FamilyName), Speeds));
        // The optimal code is built for s = 1 only: at s = 2 its constructor refuses, and the mode falls back.
        var fallback = Assert.IsType<HeterogeneousRepetitionCode>(coded.Assignment(Job(SyncMode.Coded, stragglers: 2, "HETERO-OPTIMAL"), Speeds));
        Assert.Equal((4, 2), (fallback.Workers, fallback.Stragglers));
        Assert.IsType<HeterogeneousRepetitionCode>(coded.Assignment(Job(SyncMode.Coded, stragglers: 1, "hetero"), Speeds));
    }
}
