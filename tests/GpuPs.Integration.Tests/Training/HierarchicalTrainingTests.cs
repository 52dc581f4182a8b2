using GpuPs.Cli.Cluster;
using GpuPs.Core.Topology;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Hierarchical aggregation over real loopback sockets: workers push to their node's aggregator as if it were the shard
/// (over the framed TCP data plane, or gRPC when asked),
/// the aggregator sends one message per step per shard (BSP: the node's sum; coded: one vector per repetition group),
/// and the model is the flat run's and full-batch descent's — with a worker process killed (coded) and with an aggregator
/// stopped mid-run, whose workers fall back to pushing directly (BSP).
/// </summary>
public class HierarchicalTrainingTests
{
    [Theory]
    [InlineData(SyncMode.Bsp, 0, 2)]
    [InlineData(SyncMode.Coded, 1, 1)]
    public async Task Two_nodes_train_the_flat_model_with_one_message_per_node_step_and_shard(SyncMode mode, int stragglers, int servers)
    {
        // Fractional code with s = 1: groups {0,1} and {2,3}, one per node. A gather deadline far above a step (ms here)
        // so that no node forwards part of its sum on a loaded machine, which would be right but not countable.
        var flat = CodedTrainingTests.Settings with { Mode = mode, Stragglers = stragglers, Code = "auto", Servers = servers, Steps = 10 };
        var hierarchical = flat with { Topology = ClusterTopology.Even(flat.Workers, 2), GatherTimeoutMs = 60_000 };

        var one = await TrainingRun.RunAsync(flat, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var two = await TrainingRun.RunAsync(hierarchical, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(one.Steps, two.Steps);
        var reference = FullBatchReference.Descend(flat);
        FullBatchReference.AssertClose(reference, one.Parameters, 1e-5);
        FullBatchReference.AssertClose(reference, two.Parameters, 1e-5);
        FullBatchReference.AssertClose(one.Parameters.Select(v => (double)v).ToArray(), two.Parameters, 1e-5);
        if (mode == SyncMode.Bsp)
        {
            // Every worker's push reached every shard; the shards took one message per node per step.
            Assert.Equal(flat.Steps * flat.Workers * servers, one.PushesApplied);
            Assert.Equal(flat.Steps * 2 * servers, two.PushesApplied);
        }
        else
        {
            // At most one vector per group per step reached the shard (a group's other push is answered, not sent).
            Assert.InRange(two.PushesApplied, flat.Steps * 2, flat.Steps * 2);
        }
    }

    [Theory]
    [InlineData(TransportChoice.Tcp, "tcp://")]
    [InlineData(TransportChoice.Grpc, "http://")]
    public async Task Workers_push_to_and_pull_from_their_aggregator_over_the_data_plane_they_use_for_shards(TransportChoice transport, string scheme)
    {
        var settings = CodedTrainingTests.Settings with
        {
            Mode = SyncMode.Bsp, Stragglers = 0, Steps = 6, Transport = transport, Topology = ClusterTopology.Even(4, 2), GatherTimeoutMs = 60_000,
        };
        var job = JobFactory.CreateJob(settings);
        await using var cluster = await EmbeddedCluster.StartAsync(settings, job, Log.Logger, CancellationToken.None);
        var reports = await cluster.RunWorkersAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(5));

        Assert.All(cluster.Aggregators.Values, node => Assert.All(node.Addresses, a => Assert.StartsWith(scheme, a)));
        // Every push of both node workers reached their aggregator (none fell back to the shard), one message went up per step.
        Assert.All(cluster.Aggregators.Values, node => Assert.Equal(settings.Steps * 2, node.Shards[0].PushesReceived));
        Assert.All(cluster.Aggregators.Values, node => Assert.Equal(settings.Steps, node.Shards[0].MessagesForwarded));
        Assert.All(reports, r => Assert.Equal(settings.Steps, r.Steps));
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        var parameters = new float[ShardLayout.Compute(job.ParameterCount, 1)[0].Length];
        await observer.PullAsync(-1, 0, parameters, CancellationToken.None);
        FullBatchReference.AssertClose(FullBatchReference.Descend(settings), parameters, 1e-5);
    }

    [Fact]
    public async Task Coded_hierarchical_training_with_a_killed_worker_process_decodes_the_full_batch_gradient()
    {
        // n = 6, s = 2: fractional groups {0,1,2} and {3,4,5}, one per node. Worker processes read the topology from a
        // file; the aggregators are tasks of the cluster. The killed worker is never evicted (heartbeat timeout above the
        // test), so steps after the kill closed because its group's other workers' vector decoded.
        var coded = CodedTrainingTests.Settings with
        {
            Mode = SyncMode.Coded, Workers = 6, Stragglers = 2, Code = "fractional", Steps = 20, Processes = true, HeartbeatTimeoutMs = 600_000,
            StragglerModel = "none:unit=0.05", Topology = ClusterTopology.Even(6, 2),
        };
        const int killed = 1;
        var job = JobFactory.CreateJob(coded);
        await using var cluster = await EmbeddedCluster.StartAsync(coded, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        while ((await observer.StatusAsync(CancellationToken.None)).Step < 5) await Task.Delay(50);
        cluster.KillWorker(killed);
        await workers.WaitAsync(TimeSpan.FromMinutes(5));

        var status = await observer.StatusAsync(CancellationToken.None);
        Assert.True(status.Finished);
        Assert.Equal(coded.Steps, status.Step);
        Assert.InRange(status.PushesApplied, coded.Steps * 2, coded.Steps * 2);
        Assert.True(cluster.Aggregators.Values.Sum(a => a.Shards[0].RedundantPushes) > 0, "no group member's push was answered without being sent");
        var parameters = new float[ShardLayout.Compute(job.ParameterCount, 1)[0].Length];
        await observer.PullAsync(-1, 0, parameters, CancellationToken.None);
        FullBatchReference.AssertClose(FullBatchReference.Descend(coded), parameters, 1e-5);
    }

    [Fact]
    public async Task Bsp_workers_whose_aggregator_stops_mid_run_push_directly_and_the_model_stays_exact()
    {
        var settings = CodedTrainingTests.Settings with
        {
            Mode = SyncMode.Bsp, Stragglers = 0, Steps = 20, StragglerModel = "none:unit=0.05", Topology = ClusterTopology.Even(4, 2),
            GatherTimeoutMs = 60_000, AggregatorTimeoutMs = 60_000,
        };
        var job = JobFactory.CreateJob(settings);
        await using var cluster = await EmbeddedCluster.StartAsync(settings, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        StatusReply status;
        while ((status = await observer.StatusAsync(CancellationToken.None)).Step < 5) await Task.Delay(20);
        var survivor = cluster.Aggregators["node-1"].Shards[0];
        await cluster.KillAggregatorAsync("node-0");
        var beforeKill = status;
        await workers.WaitAsync(TimeSpan.FromMinutes(3));

        status = await observer.StatusAsync(CancellationToken.None);
        Assert.True(status.Finished);
        Assert.Equal(settings.Steps, status.Step);
        Assert.Equal(settings.Workers, status.LiveWorkers);
        Assert.All(status.WorkerSteps, clock => Assert.Equal(settings.Steps, clock));
        // Node 1 sent one message a step throughout; node 0 one a step until the stop, then its two workers' own pushes
        // (one more message a step) for the steps after it, which are at most those left when the stop began.
        Assert.InRange(status.PushesApplied, settings.Steps * 2 + 1, settings.Steps * 2 + (settings.Steps - beforeKill.Step));
        // Node 1's two workers pulled through their aggregator, which pulled each step once (the first pull and the
        // final model's add one), not once per worker.
        Assert.InRange(survivor.BytesPulled / (job.ParameterCount * sizeof(float)), settings.Steps, settings.Steps + 2);
        Assert.Equal(settings.Steps * 2, survivor.PushesReceived);
        var parameters = new float[ShardLayout.Compute(job.ParameterCount, 1)[0].Length];
        await observer.PullAsync(-1, 0, parameters, CancellationToken.None);
        FullBatchReference.AssertClose(FullBatchReference.Descend(settings), parameters, 1e-5);
    }
}
