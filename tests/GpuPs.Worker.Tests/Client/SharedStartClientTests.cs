using GpuPs.Core.Compression;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Tests.Fakes;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// Compressed pulls and the shared start (<c>ShardedParameterClient.Starts</c>) against real shards' pull views: a
/// worker that registers while the shards hold the job's seeded start takes that start as its copy, so its first pull is
/// a delta and not the parameters in full; one that joins after a step was applied gets them in full, exactly.
/// </summary>
public class SharedStartClientTests
{
    private const int FullBytes = SmallJob.Parameters * sizeof(float);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Two ASP workers (pushes apply one by one), top-k pulls of a quarter of each shard.</summary>
    private static TrainingJob Job() => SmallJob.Softmax(SyncMode.Asp, workers: 2, steps: 4) with
    {
        Compression = new CompressionSettings(Pull: CompressionKind.TopK, TopKRatio: 0.25),
    };

    [Fact]
    public async Task A_worker_registered_at_the_seeded_start_pulls_deltas_from_the_first_pull_and_a_late_one_pulls_in_full_first()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var first = cluster.Client();
        var joined = await first.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        var parameters = new float[SmallJob.Parameters];

        await first.PullAsync(0, parameters, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(cluster.Parameters(), parameters);
        Assert.InRange(first.BytesPulled, 0, FullBytes / 2);   // two all-zero deltas (their count alone)
        Assert.All(await first.PushAsync(new PushHeader(joined.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound),
            o => Assert.True(o.IsApplied, o.ToString()));
        long before = first.BytesPulled;
        await first.PullAsync(1, parameters, CancellationToken.None).WaitAsync(Bound);
        Assert.InRange(first.BytesPulled - before, 1, FullBytes - 1);   // a top-k delta against the copy: some values, not all

        await using var late = cluster.Client();
        await late.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);   // the shards have left their start
        var latePulled = new float[SmallJob.Parameters];
        await late.PullAsync(1, latePulled, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(cluster.Parameters(), latePulled);
        Assert.Equal(FullBytes, late.BytesPulled);
    }

    [Fact]
    public async Task A_worker_that_rejoins_forgets_its_copy_and_pulls_in_full_first()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        var token = new RegisterRequest { RequestedWorkerId = -1, ClientToken = "worker 0" };
        var joined = await client.RegisterAsync(token, CancellationToken.None);
        var parameters = new float[SmallJob.Parameters];
        await client.PullAsync(0, parameters, CancellationToken.None).WaitAsync(Bound);
        Assert.All(await client.PushAsync(new PushHeader(joined.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound),
            o => Assert.True(o.IsApplied, o.ToString()));

        Assert.Equal(joined.WorkerId, (await client.RegisterAsync(token, CancellationToken.None)).WorkerId);   // a rejoin, the shards past their start
        long before = client.BytesPulled;
        await client.PullAsync(1, parameters, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(cluster.Parameters(), parameters);
        Assert.Equal(FullBytes, client.BytesPulled - before);
    }
}
