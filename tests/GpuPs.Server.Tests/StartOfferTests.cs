using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// The shared start of compressed pulls (<c>RegisterReply.start_view_version</c>) is offered only while the shard holds
/// the job's initial values: step 0 of a shard that was not resumed. Every change of the parameters advances the step, so
/// the shard needs no hash of itself to know.
/// </summary>
public class StartOfferTests
{
    [Fact]
    public void A_fresh_shard_offers_its_start_until_the_first_step_closes_and_never_after()
    {
        using var shard = Create(CompressedPulls(2));
        Assert.True(shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "zero" }).StartViewVersion > 0);
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f)).IsApplied);
        // One of two pushed: nothing applied yet, the parameters are still the start.
        Assert.True(shard.Register(new RegisterRequest { RequestedWorkerId = 1 }).StartViewVersion > 0);
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f)).ClosedStep);

        // Worker 0 registers again (a retried call): the parameters moved, so no start.
        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "zero" }).StartViewVersion);
    }

    [Fact]
    public void A_shard_resumed_from_a_checkpoint_of_step_0_offers_no_start()
    {
        var job = CompressedPulls(2);
        using var original = Create(job);
        // A checkpoint at step 0 whose values are not the start (written by another build, or restored by hand): the
        // shard cannot tell from its step, only from having been resumed.
        var checkpoint = original.Checkpoint() with { Parameters = Filled(0.25f) };
        using var resumed = Create(job, resume: checkpoint);

        var reply = resumed.Register(new RegisterRequest { RequestedWorkerId = 0 });

        Assert.Equal(0, reply.Step);
        Assert.Equal(0, reply.StartViewVersion);
        Assert.Equal(0ul, reply.StartViewHash);
    }
}
