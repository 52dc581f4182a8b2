using GpuPs.Core.Coding;
using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>Shards 1.. of a coded proportional job decode with the version the workers relay from the coordinator.</summary>
public class RelayedAssignmentTests
{
    private static readonly TrainingJob Job =
        ShardFixture.Job(SyncMode.Coded, 3, steps: 100) with { Assignment = AssignmentPolicy.Proportional, Stragglers = 1 };

    private static Assignment Wire(long version, params double[] speeds) =>
        AssignmentWire.ToWire(new WorkAssignment(version, FromStep: 0, speeds, MovedFraction: 0));

    [Fact]
    public void A_newer_version_gives_the_coordinators_code_and_the_same_or_an_older_one_gives_none()
    {
        var relayed = new RelayedAssignment(Job, new CapturedLog().Logger);

        var code = relayed.Adopt(0, Wire(1, 100, 200, 400), openStep: 0);

        Assert.IsType<HeterogeneousRepetitionCode>(code);
        Assert.Equal(Job.Mode.Assignment(Job, [100, 200, 400]).Construction, code!.Construction);
        Assert.Null(relayed.Adopt(1, Wire(1, 100, 200, 400), openStep: 0));
        Assert.NotNull(relayed.Adopt(2, Wire(2, 400, 200, 100), openStep: 5));
        Assert.Null(relayed.Adopt(0, Wire(1, 100, 200, 400), openStep: 5));   // a late worker's old version
        Assert.Equal(2, relayed.Current!.Version);
    }

    [Fact]
    public void The_version_in_force_with_other_speeds_or_an_invalid_assignment_is_refused_and_changes_nothing()
    {
        var relayed = new RelayedAssignment(Job, new CapturedLog().Logger);
        relayed.Adopt(0, Wire(1, 100, 200, 400), openStep: 0);

        var altered = Assert.Throws<ShardException>(() => relayed.Adopt(1, Wire(1, 100, 200, 800), openStep: 0));
        var missing = Assert.Throws<ShardException>(() => relayed.Adopt(1, Wire(2, 100, 200), openStep: 0));
        var nan = Assert.Throws<ShardException>(() => relayed.Adopt(1, Wire(2, 100, double.NaN, 400), openStep: 0));

        Assert.All([altered, missing, nan], e => Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind));
        Assert.Contains("this shard holds that version", altered.Message);
        Assert.Equal(new[] { 100.0, 200, 400 }, relayed.Current!.Speeds);
        Assert.Equal(1, relayed.Current.Version);
    }

    [Fact]
    public void A_relay_to_a_shard_that_takes_none_is_refused_with_the_reason()
    {
        using var coordinator = ShardFixture.Create(Job);   // shard 0 of 1: it publishes, it is not relayed to
        ShardFixture.RegisterAll(coordinator, 3);

        ShardFixture.AssertError(ShardErrorKind.InvalidRequest, "which takes none",
            () => coordinator.Heartbeat(new HeartbeatRequest { WorkerId = 0, RelayedAssignment = Wire(1, 100, 200, 400) }));
    }

    [Fact]
    public void Shard_1_of_a_coded_proportional_job_takes_the_relayed_version_and_shows_it_in_status()
    {
        using var shard = ParameterShard.Create(Job, new OptimizerSettings(OptimizerKind.Sgd, 1f), 1, 2, Accelerators.Create(AcceleratorChoice.Simd), Serilog.Log.Logger);
        ShardFixture.RegisterAll(shard, 3);

        shard.Heartbeat(new HeartbeatRequest { WorkerId = 2, RelayedAssignment = Wire(1, 100, 200, 400) });

        Assert.Equal(1, shard.Status().Assignment.Version);
        Assert.Equal(new[] { 100.0, 200, 400 }, shard.Status().Assignment.Speeds);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_new_assignment_drops_the_open_step_s_pushes_encoded_with_the_old_code(int index)
    {
        // Shard 0 computes the assignment from the workers' heartbeats; shard 1 takes the version a worker relays.
        using var shard = ParameterShard.Create(Job, new OptimizerSettings(OptimizerKind.Sgd, 1f), index, 2, Accelerators.Create(AcceleratorChoice.Simd), Serilog.Log.Logger);
        ShardFixture.RegisterAll(shard, 3);
        var values = new float[shard.Info.Length];
        Assert.True(shard.Push(new PushHeader(0, 0, index, 10, 0, CodeRow: 0), values).IsApplied);

        if (index == 0)
            foreach (var (worker, speed) in new[] { (0, 100.0), (1, 200.0), (2, 400.0) })
                shard.Heartbeat(new HeartbeatRequest { WorkerId = worker, RowsPerSecond = speed });
        else
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 2, RelayedAssignment = Wire(1, 100, 200, 400) });
        Assert.Equal(1, shard.Status().Assignment.Version);

        // Worker 0's push was encoded with the uniform code and is gone: with the old code, 2 of 3 would decode now.
        var outcome = shard.Push(new PushHeader(1, 0, index, 10, 0, CodeRow: 1), values);
        Assert.True(outcome.IsApplied);
        Assert.False(outcome.ClosedStep);
    }
}
