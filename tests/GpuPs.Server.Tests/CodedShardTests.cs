using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using Serilog;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>The straggler-tolerant modes' refusals and closing rules, on the shard domain object.</summary>
public class CodedShardTests
{
    private const int Length = 8;

    private static ParameterShard Shard(SyncMode mode, int workers, int stragglers, string code = "auto")
    {
        var job = ShardFixture.Job(mode, workers, steps: 10) with { Stragglers = stragglers, Code = code };
        var shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Length },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[Length]), Accelerators.Create(AcceleratorChoice.Simd), Log.Logger);
        ShardFixture.RegisterAll(shard, workers);
        return shard;
    }

    [Fact]
    public void Coded_pushes_with_a_foreign_code_row_a_wrong_length_or_no_row_are_refused_and_change_nothing()
    {
        using var shard = Shard(SyncMode.Coded, workers: 4, stragglers: 1);
        AssertError(ShardErrorKind.InvalidRequest, "code row 2 does not match worker 1", () => shard.Push(new PushHeader(1, 0, 0, 10, 0, CodeRow: 2), ShardFixture.Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "no code_row", () => shard.Push(new PushHeader(1, 0, 0, 10, 0), ShardFixture.Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "has 5 values", () => shard.Push(new PushHeader(1, 0, 0, 10, 0, CodeRow: 1), new float[5]));
        shard.Push(new PushHeader(1, 0, 0, 10, 0, CodeRow: 1), ShardFixture.Filled(1));
        AssertError(ShardErrorKind.InvalidRequest, "counts 11 rows", () => shard.Push(new PushHeader(2, 0, 0, 11, 0, CodeRow: 2), ShardFixture.Filled(1)));
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed", shard.Push(new PushHeader(1, 0, 0, 10, 0, CodeRow: 1), ShardFixture.Filled(1)));
        Assert.Equal(new float[Length], ShardFixture.Parameters(shard));
        Assert.Equal(0, shard.Status().Step);
    }

    [Fact]
    public void A_coded_step_closes_at_n_minus_s_responders_and_late_pushes_are_dropped_and_counted()
    {
        // Fractional, n = 4, s = 1: groups {0,1} and {2,3} hold partitions {0,1} and {2,3}; one responder per group decodes.
        using var shard = Shard(SyncMode.Coded, workers: 4, stragglers: 1, code: "fractional");
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 4, 0, CodeRow: 0), ShardFixture.Filled(3)).ClosedStep);
        Assert.False(shard.Push(new PushHeader(1, 0, 0, 4, 0, CodeRow: 1), ShardFixture.Filled(3)).ClosedStep);
        var reply = shard.Push(new PushHeader(3, 0, 0, 4, 0, CodeRow: 3), ShardFixture.Filled(5));
        Assert.True(reply.ClosedStep);
        Assert.Equal(ShardFixture.Filled(-(3 + 5) / 4f), ShardFixture.Parameters(shard));
        AssertOutcome(PushOutcomeKind.Late, "closed", shard.Push(new PushHeader(2, 0, 0, 4, 0, CodeRow: 2), ShardFixture.Filled(5)));
        Assert.Equal(1, shard.Status().PushesDroppedLate);
        Assert.Equal(ShardFixture.Filled(-2f), ShardFixture.Parameters(shard));
    }

    [Fact]
    public void Multi_message_closes_when_the_messages_cover_every_partition_and_ignores_redundant_ones()
    {
        // Cyclic, n = 3, s = 1: worker i holds partitions i and i+1 (mod 3).
        using var shard = Shard(SyncMode.MultiMessage, workers: 3, stragglers: 1, code: "cyclic");
        AssertError(ShardErrorKind.InvalidRequest, "partition 2 is not assigned to worker 0", () => shard.Push(new PushHeader(0, 0, 0, 1, 0, Partition: 2), ShardFixture.Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "names no partition", () => shard.Push(new PushHeader(0, 0, 0, 1, 0), ShardFixture.Filled(1)));
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 1, 0, Partition: 0), ShardFixture.Filled(1)).ClosedStep);
        Assert.False(shard.Push(new PushHeader(0, 0, 0, 1, 0, Partition: 1), ShardFixture.Filled(2)).ClosedStep);
        Assert.False(shard.Push(new PushHeader(1, 0, 0, 1, 0, Partition: 1), ShardFixture.Filled(100)).ClosedStep); // a replica's copy of partition 1
        ShardFixture.AssertOutcome(PushOutcomeKind.Duplicate, "already pushed partition 1", shard.Push(new PushHeader(0, 0, 0, 1, 0, Partition: 1), ShardFixture.Filled(2)));
        Assert.True(shard.Push(new PushHeader(2, 0, 0, 1, 0, Partition: 2), ShardFixture.Filled(3)).ClosedStep);
        Assert.Equal(ShardFixture.Filled(-(1 + 2 + 3) / 3f), ShardFixture.Parameters(shard));
    }

    [Fact]
    public void Backup_workers_close_a_step_with_the_first_n_minus_s_pushes()
    {
        using var shard = Shard(SyncMode.Backup, workers: 4, stragglers: 2);
        Assert.False(shard.Push(new PushHeader(3, 0, 0, 1, 0), ShardFixture.Filled(2)).ClosedStep);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), ShardFixture.Filled(4)).ClosedStep);
        Assert.Equal(ShardFixture.Filled(-3f), ShardFixture.Parameters(shard));
        AssertOutcome(PushOutcomeKind.Late, "closed", shard.Push(new PushHeader(1, 0, 0, 1, 0), ShardFixture.Filled(4)));
    }

}
