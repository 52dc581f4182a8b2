using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// A worker process that dies in a <c>--processes</c> run is handled as a deployment would handle it: the servers evict
/// it, the job goes on without it, and the cluster restarts it under the same id, after which it rejoins and pushes to
/// the end. The run does not abort.
/// </summary>
public class WorkerDeathTests
{
    [Fact]
    public async Task A_bsp_worker_killed_mid_run_is_evicted_restarted_and_rejoins_while_the_job_goes_on()
    {
        var settings = new TrainSettings
        {
            Dataset = "synthetic:rows=300,features=8,classes=2", Model = Kernels.ModelKind.Logistic, Workers = 3, Mode = SyncMode.Bsp,
            Steps = 150, BatchSize = 16, Seed = 3, Accelerator = AcceleratorChoice.Simd, Processes = true, HeartbeatTimeoutMs = 1_000,
            // 50 ms of simulated compute per partition: the run outlasts eviction (1 s) and the restart.
            StragglerModel = "none:unit=0.05",
        };
        const int killed = 1;
        var job = JobFactory.CreateJob(settings);
        await using var cluster = await EmbeddedCluster.StartAsync(settings, job, Log.Logger, CancellationToken.None);
        var workers = cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        while ((await observer.StatusAsync(CancellationToken.None)).Step < 5) await Task.Delay(20);

        cluster.KillWorker(killed);
        await workers.WaitAsync(TimeSpan.FromMinutes(3));

        var status = await observer.StatusAsync(CancellationToken.None);
        Assert.True(status.Finished);
        Assert.Equal(settings.Steps, status.Step);
        Assert.Equal(settings.Workers, status.LiveWorkers);
        // Back at the shard's step after the restart, it pushed every step to the end.
        Assert.Equal(settings.Steps, status.WorkerSteps[killed]);
    }
}
