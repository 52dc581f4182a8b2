using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// A node aggregator's combined push (contributors) on the shard: it counts as each contributor's push — quorum, clocks,
/// exactly-once — is taken whole or refused whole, and is malformed when it names a worker twice, one not registered, or
/// (coded) workers of different rows of B, or when the mode cannot combine pushes.
/// </summary>
public class NodePushTests
{
    private static ParameterShard Shard(SyncMode mode, int workers, int stragglers = 0)
    {
        var job = Job(mode, workers, steps: 10) with { Stragglers = stragglers };
        var shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Length },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[Length]), Accelerators.Create(AcceleratorChoice.Simd), Log.Logger);
        RegisterAll(shard, workers);
        return shard;
    }

    private static PushHeader Node(long step, long rows, params int[] workers) =>
        new(workers[0], step, 0, rows, 0, Contributors: new ContributorList(workers));

    [Fact]
    public void A_bsp_node_sum_counts_as_each_contributors_push_and_the_step_closes_with_the_others()
    {
        using var shard = Shard(SyncMode.Bsp, workers: 4);
        var outcome = shard.Push(Node(0, 20, 0, 1), Filled(6));
        Assert.True(outcome.IsApplied && !outcome.ClosedStep);
        Assert.Equal([1L, 1, 0, 0], shard.Status().WorkerSteps);
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed", shard.Push(new PushHeader(1, 0, 0, 10, 0), Filled(1)));
        shard.Push(new PushHeader(2, 0, 0, 10, 0), Filled(1));
        Assert.True(shard.Push(new PushHeader(3, 0, 0, 10, 0), Filled(1)).ClosedStep);
        // SGD with rate 1 from 0: minus the mean over all 40 rows, (6 + 1 + 1) / 40.
        Assert.All(Parameters(shard), p => Assert.Equal(-0.2f, p, 6));
        Assert.Equal(3, shard.Status().PushesApplied);   // one message for workers 0 and 1
    }

    [Fact]
    public void A_node_push_that_overlaps_a_direct_push_is_refused_whole_and_changes_nothing()
    {
        using var shard = Shard(SyncMode.Bsp, workers: 4);
        shard.Push(new PushHeader(1, 0, 0, 10, 0), Filled(1));
        AssertOutcome(PushOutcomeKind.Duplicate, "worker 1 already pushed", shard.Push(Node(0, 20, 0, 1), Filled(2)));
        Assert.Equal([0L, 1, 0, 0], shard.Status().WorkerSteps);
        shard.Push(Node(0, 20, 2, 3), Filled(2));
        Assert.Equal(0, shard.Status().Step);   // worker 0 has not pushed: the refused node push took nothing for it
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 10, 0), Filled(1)).ClosedStep);
        Assert.All(Parameters(shard), p => Assert.Equal(-0.1f, p, 6));
    }

    [Fact]
    public void Malformed_node_pushes_are_refused_and_change_nothing()
    {
        using var shard = Shard(SyncMode.Bsp, workers: 4);
        AssertError(ShardErrorKind.InvalidRequest, "names worker 2 twice", () => shard.Push(Node(0, 10, 0, 2, 2), Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "names worker 0 twice", () => shard.Push(Node(0, 10, 0, 1, 0), Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "contributors start with 1", () => shard.Push(new PushHeader(0, 0, 0, 10, 0, Contributors: new ContributorList([1, 0])), Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "out of range", () => shard.Push(Node(0, 10, 0, 9), Filled(1)));
        Assert.Equal([0L, 0, 0, 0], shard.Status().WorkerSteps);
        using var partly = new ParameterShard(new ShardOptions(Job(SyncMode.Bsp, 4, 10), new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Length },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[Length]), Accelerators.Create(AcceleratorChoice.Simd), Log.Logger);
        RegisterAll(partly, 2);
        AssertError(ShardErrorKind.UnknownWorker, "worker 3 is not registered", () => partly.Push(Node(0, 10, 0, 3), Filled(1)));
        Assert.Equal([0L, 0, 0, 0], partly.Status().WorkerSteps);
        using var asp = Shard(SyncMode.Asp, workers: 4);
        AssertError(ShardErrorKind.InvalidRequest, "takes no node-aggregated pushes", () => asp.Push(Node(0, 10, 0, 1), Filled(1)));
    }

    [Fact]
    public void A_coded_node_push_stands_for_a_repetition_group_only()
    {
        // Fractional, n = 4, s = 1: groups {0,1} and {2,3}.
        using var shard = Shard(SyncMode.Coded, workers: 4, stragglers: 1);
        AssertError(ShardErrorKind.InvalidRequest, "workers 0 and 2 have different rows of B",
            () => shard.Push(Node(0, 10, 0, 2) with { CodeRow = 0 }, Filled(1)));
        AssertError(ShardErrorKind.InvalidRequest, "has code_row none", () => shard.Push(Node(0, 10, 0, 1), Filled(1)));
        Assert.False(shard.Push(Node(0, 40, 0, 1) with { CodeRow = 0 }, Filled(3)).ClosedStep);
        Assert.Equal([1L, 1, 0, 0], shard.Status().WorkerSteps);
        // Every coded vector of a step counts the step's rows: a group that counts otherwise is malformed.
        AssertError(ShardErrorKind.InvalidRequest, "counts 39 rows for step 0, other workers 40",
            () => shard.Push(Node(0, 39, 2, 3) with { CodeRow = 2 }, Filled(1)));
        // The other group's vector completes the decode: g = c_0 + c_2 over the step's 40 rows.
        Assert.True(shard.Push(new PushHeader(3, 0, 0, 40, 0, CodeRow: 3), Filled(1)).ClosedStep);
        Assert.All(Parameters(shard), p => Assert.Equal(-0.1f, p, 6));
    }
}
