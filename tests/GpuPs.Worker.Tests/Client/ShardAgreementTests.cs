using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Tests.Fakes;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// What <see cref="ShardedParameterClient"/> concludes when shards of one job disagree: one has finished and another
/// has not (the job has finished, and the pull is of the oldest shard's step), or the first shard names a job no worker
/// could run (refused by name before anything is pulled).
/// </summary>
public class ShardAgreementTests
{
    private const int Parameters = SmallJob.Parameters;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // same step asked for: a finished shard ends the catch-up, it does not wait for the other to reach it
    public async Task A_pull_that_finds_one_shard_finished_says_the_job_finished_at_the_oldest_shard_s_step(bool sameStep)
    {
        using var cluster = new InProcessCluster(SmallJob.Softmax(SyncMode.Bsp, workers: 1, steps: 1), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        var joined = await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        // Shard 0 alone gets the job's only step: it has finished, shard 1 is still at step 0.
        var first = client.Layout[0];
        await cluster.Fakes[0].PushAsync(new PushHeader(joined.WorkerId, 0, 0, 1, 0), SmallJob.Ramp().AsMemory((int)first.Offset, (int)first.Length), CancellationToken.None);
        Assert.True(cluster.Shards[0].Status().Finished);
        Assert.False(cluster.Shards[1].Status().Finished);

        var pulled = await client.PullAsync(0, new float[Parameters], CancellationToken.None, sameStep).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(pulled.Finished);
        Assert.Equal(0, pulled.Step);
    }

    [Fact]
    public async Task A_fused_same_step_pull_that_finds_one_shard_finished_says_the_job_finished_at_the_oldest_shard_s_step()
    {
        // ASP, two workers, one step each: worker 1 pushed its step to shard 1 alone, so worker 0's fused push leaves
        // shard 0 at step 1 (worker 1's step missing) and shard 1 at step 2, finished. The steps differ, but a finished shard will not reach the other's: the
        // pull is taken (as PullAsync takes it), not sent back for a pull of one step.
        using var cluster = new InProcessCluster(SmallJob.Softmax(SyncMode.Asp, workers: 2, steps: 1), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;
        await using var client = cluster.Client();
        await using var other = cluster.Client();
        await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        await other.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        cluster.Shards[1].Push(new PushHeader(1, 0, 1, 1, 0), new float[cluster.Shards[1].Info.Length]);

        var fused = await client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), SmallJob.Ramp(), 0, new float[Parameters], CancellationToken.None, sameStep: true)
            .WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((false, true), (cluster.Shards[0].Status().Finished, cluster.Shards[1].Status().Finished));
        Assert.Equal(new PulledParameters(1, true), fused.Pulled);
    }

    [Fact]
    public async Task A_first_shard_that_names_an_impossible_job_is_refused_by_name_and_nothing_is_pulled()
    {
        using var cluster = new InProcessCluster(SmallJob.Softmax(SyncMode.Bsp, workers: 1, steps: 1), shards: 1, learningRate: 0.5f);
        var shard = cluster.Fakes[0];
        var lying = new ImpossibleJob(shard);
        await using var client = new ShardedParameterClient([new ShardConnection("lying shard", lying, shard)], null, Log.Logger);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None));

        Assert.Contains("server lying shard runs an impossible job", e.Message);
        Assert.Contains("parameter count", e.Message);
        Assert.Equal(-1, client.WorkerId);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.PullAsync(0, new float[Parameters], CancellationToken.None));
        Assert.Equal(0, shard.Pulls);
    }

    /// <summary>Registers with the real shard, then names a job whose parameter count does not match its model.</summary>
    private sealed class ImpossibleJob(InProcessShard shard) : IShardControl
    {
        public async Task<RegisterReply> RegisterAsync(RegisterRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null)
        {
            var reply = await shard.RegisterAsync(request, cancellationToken, timeout);
            reply.Job.ParameterCount += 1;
            return reply;
        }

        public Task<HeartbeatReply> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
            shard.HeartbeatAsync(request, cancellationToken, timeout);

        public Task<StatusReply> StatusAsync(CancellationToken cancellationToken, TimeSpan? timeout = null) => shard.StatusAsync(cancellationToken, timeout);
    }
}
