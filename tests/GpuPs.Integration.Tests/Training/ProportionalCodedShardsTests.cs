using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// The heterogeneity-aware code on two shards over loopback gRPC: shard 0's coordinator publishes the assignment, the
/// workers relay it to shard 1 before pushing, and both shards decode with the same code — so the model is that of one
/// shard and of full-batch descent, also when a worker process is killed mid-run and never comes back.
/// </summary>
public class ProportionalCodedShardsTests
{
    /// <summary>Coded, s = 1, three workers of speeds 1 : 2 : 4 (kernel repeats), partitions in proportion.</summary>
    private static readonly TrainSettings Settings = CodedTrainingTests.Settings with
    {
        Mode = SyncMode.Coded, Workers = 3, Stragglers = 1, Code = "auto", Steps = 8, Assignment = "proportional",
        StragglerModel = "slowdown:factors=4+2+1",
    };

    [Fact]
    public async Task Two_shards_train_the_model_of_one_shard_and_of_full_batch_descent()
    {
        var one = await TrainingRun.RunAsync(Settings with { Servers = 1 }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var two = await TrainingRun.RunAsync(Settings with { Servers = 2 }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(Settings.Steps, two.Steps);
        FullBatchReference.AssertClose(one.Parameters.Select(v => (double)v).ToArray(), two.Parameters, 1e-5);
        FullBatchReference.AssertClose(FullBatchReference.Descend(Settings), two.Parameters, 1e-5);
    }

    [Fact]
    public async Task Two_shards_stay_exact_when_a_worker_process_is_killed_and_shard_1_holds_the_coordinators_assignment()
    {
        // Never evicted (the heartbeat timeout outlasts the test): every step after the kill closed because the live
        // workers' pushes decoded on both shards.
        var coded = Settings with { Servers = 2, Steps = 16, Processes = true, HeartbeatTimeoutMs = 600_000, StragglerModel = "slowdown:factors=4+2+1,unit=0.05" };
        const int killed = 1;
        var job = JobFactory.CreateJob(coded);
        await using var cluster = await EmbeddedCluster.StartAsync(coded, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        var observers = cluster.ServerAddresses.Select(a => new GrpcShardClient(a, cluster.Auth)).ToArray();
        try
        {
            StatusReply status;
            do
            {
                await Task.Delay(50);
                status = await observers[1].StatusAsync(CancellationToken.None);
            } while (status.Step < 4);
            cluster.KillWorker(killed);
            await workers.WaitAsync(TimeSpan.FromMinutes(5));

            var statuses = await Task.WhenAll(observers.Select(o => o.StatusAsync(CancellationToken.None)));
            Assert.All(statuses, s => Assert.Equal(coded.Steps, s.Step));
            Assert.All(statuses, s => Assert.True(s.WorkerSteps[killed] < coded.Steps - 4, $"worker {killed} pushed {s.WorkerSteps[killed]} of {coded.Steps} steps"));
            Assert.True(statuses[1].Assignment.Version >= 1, "shard 1 never received the assignment");
            Assert.Equal(statuses[0].Assignment.Version, statuses[1].Assignment.Version);
            Assert.Equal(statuses[0].Assignment.Speeds, statuses[1].Assignment.Speeds);
            var layout = ShardLayout.Compute(job.ParameterCount, 2);
            var parameters = new float[job.ParameterCount];
            for (int i = 0; i < 2; i++)
                await observers[i].PullAsync(-1, 0, parameters.AsMemory((int)layout[i].Offset, (int)layout[i].Length), CancellationToken.None);
            FullBatchReference.AssertClose(FullBatchReference.Descend(coded), parameters, 1e-5);
        }
        finally
        {
            foreach (var o in observers) await o.DisposeAsync();
        }
    }
}
