using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Tests.Fakes;

namespace GpuPs.Worker.Tests.Heterogeneity;

/// <summary>
/// Whole proportional runs over in-process shards: the coordinator's assignment reaches the workers, every step is the
/// exact full-batch gradient, and a rebalance in the middle of the run leaves the model where a uniform run ends.
/// </summary>
public class ProportionalTrainingTests
{
    private static TrainingJob Job(SyncMode mode, int workers, long steps, AssignmentPolicy assignment, int stragglers = 0) => new()
    {
        Dataset = "synthetic:rows=603,features=6,classes=3",
        Model = new ModelShape(Kernels.ModelKind.Softmax, 6, 3),
        Mode = SyncModes.Of(mode), Workers = workers, Stragglers = stragglers, Code = "auto",
        Steps = steps, Seed = 5, HeartbeatTimeoutMs = 60_000, BatchSize = 0, Assignment = assignment,
    };

    private static double[] Reference(InProcessCluster cluster)
    {
        var data = cluster.Data();
        return FullBatchDescent.Descend(data, cluster.Job.Model, cluster.Job.Seed, cluster.Job.Steps, 0.5);
    }

    /// <summary>Runs each worker with its own slowdown: worker i repeats every kernel <c>runs(i, step)</c> times.</summary>
    private static async Task<WorkerReport[]> RunAsync(InProcessCluster cluster, Func<int, long, int> runs)
    {
        var running = Enumerable.Range(0, cluster.Job.Workers).Select(async _ =>
        {
            await using var worker = cluster.Worker(hook: r => new Slowdown(r.WorkerId, runs));
            return await worker.RunAsync(CancellationToken.None);
        });
        return await Task.WhenAll(running);
    }

    [Fact]
    public async Task Proportional_bsp_on_two_shards_descends_exactly_like_full_batch_gradient_descent()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Bsp, 3, steps: 4, AssignmentPolicy.Proportional), shards: 2, learningRate: 0.5f);

        await RunAsync(cluster, (w, _) => 1 << (2 - w));   // 4 : 2 : 1 kernel runs, speeds 1 : 2 : 4

        FullBatchDescent.AssertClose(Reference(cluster), cluster.Parameters(), 1e-5);
        var assignment = cluster.Status().Assignment;
        Assert.True(assignment.Version >= 1);
        Assert.Equal(3, assignment.Speeds.Count);
    }

    [Fact]
    public async Task The_heterogeneity_aware_code_trains_exactly_like_full_batch_gradient_descent()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Coded, 3, steps: 4, AssignmentPolicy.Proportional, stragglers: 1), shards: 1, learningRate: 0.5f);

        await RunAsync(cluster, (w, _) => 1 << (2 - w));

        FullBatchDescent.AssertClose(Reference(cluster), cluster.Parameters(), 1e-5);
    }

    [Fact]
    public async Task A_worker_that_slows_down_mid_run_is_rebalanced_and_the_model_is_that_of_a_uniform_run()
    {
        // Worker 0 computes every kernel 32 times from step 3 on: far beyond any noise of a loaded machine, so its share
        // of the speed drops by > 25% and the coordinator reassigns after 3 drifting steps, in the middle of the run.
        // Every worker keeps rows (proportional-all), so every worker switches to every version: a worker at a zero
        // share may skip versions published while it waited (ZeroShareTrainingTests covers zero shares).
        using var proportional = new InProcessCluster(Job(SyncMode.Bsp, 3, steps: 14, AssignmentPolicy.ProportionalAll), shards: 1, learningRate: 0.5f);
        var reports = await RunAsync(proportional, (w, step) => w == 0 && step >= 3 ? 32 : 1);
        using var uniform = new InProcessCluster(Job(SyncMode.Bsp, 3, steps: 14, AssignmentPolicy.Uniform), shards: 1, learningRate: 0.5f);
        await uniform.RunAsync(3, CancellationToken.None);

        var assignment = proportional.Status().Assignment;
        Assert.True(assignment.Version >= 2, $"no rebalance: assignment version {assignment.Version}");
        Assert.True(assignment.MovedFraction > 0);
        Assert.All(reports, r => Assert.Equal(assignment.Version - 1, r.Rebalances));
        Assert.True(reports.Sum(r => r.RowsLoaded) > 0);
        var expected = uniform.Parameters().Select(v => (double)v).ToArray();
        FullBatchDescent.AssertClose(expected, proportional.Parameters(), 1e-5);
        FullBatchDescent.AssertClose(Reference(proportional), proportional.Parameters(), 1e-5);
    }

    [Fact]
    public async Task The_optimal_code_with_real_coefficients_trains_exactly_on_two_shards()
    {
        using var cluster = new InProcessCluster(Job(SyncMode.Coded, 4, steps: 6, AssignmentPolicy.Proportional, stragglers: 1) with { Code = "hetero-optimal" },
            shards: 2, learningRate: 0.5f);

        await RunAsync(cluster, (w, _) => new[] { 6, 6, 3, 2 }[w]);   // speeds about 1 : 1 : 2 : 3, whose groups cannot balance

        FullBatchDescent.AssertClose(Reference(cluster), cluster.Parameters(), 1e-5);
        var code = cluster.Job.Mode.Assignment(cluster.Job, cluster.Status().Assignment.Speeds);
        Assert.IsType<GpuPs.Core.Coding.OptimalHeterogeneousCode>(code);
    }

    private sealed class Slowdown(int workerId, Func<int, long, int> runs) : IWorkerStepHook
    {
        public int ComputeRuns { get; private set; } = runs(workerId, 0);
        public void BeginStep(long step, int load) => ComputeRuns = runs(workerId, step);
        public Task AfterPartitionAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void EndStep(TimeSpan compute) { }
    }
}
