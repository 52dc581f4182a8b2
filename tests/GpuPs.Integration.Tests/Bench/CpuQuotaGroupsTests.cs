using System.Diagnostics;
using GpuPs.Cli.Bench;
using GpuPs.Cli.Bench.Hetero;
using GpuPs.Cli.Cluster;
using GpuPs.Integration.Tests.Training;
using GpuPs.Kernels;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// The cgroup slowdown of <c>gpups bench hetero</c>: quotas sized by speed, processes started inside their group and held
/// to its quota (the kernel's own throttle counter), and every group removed afterwards, a dead run's included.
/// </summary>
public class CpuQuotaGroupsTests
{
    [Fact]
    public void Worker_quotas_split_the_worker_cores_by_speed_and_the_server_gets_its_own()
    {
        var options = new HeteroBenchmarkOptions([4, 2, 1], WorkerCores: 1.4, ServerCores: 0.3);

        var quotas = HeteroBenchmark.Quotas(options, [0.25, 0.5, 1]);

        Assert.Equal(0.3, quotas[(ClusterRole.Server, 0)]);
        Assert.Equal(0.2, quotas[(ClusterRole.Worker, 0)], 12);
        Assert.Equal(0.4, quotas[(ClusterRole.Worker, 1)], 12);
        Assert.Equal(0.8, quotas[(ClusterRole.Worker, 2)], 12);
        // The default leaves a tenth of the machine to everything else.
        Assert.Equal(0.9 * Environment.ProcessorCount, HeteroBenchmark.Quotas(options with { WorkerCores = 0 }, [1, 1, 1]).Values.Sum(), 9);
    }

    [Fact]
    public void The_period_is_10_ms_unless_the_smallest_quota_needs_a_longer_one_for_its_1_ms()
    {
        Assert.Equal(10_000, CpuQuotaGroups.PeriodFor(0.5));
        Assert.Equal(25_000, CpuQuotaGroups.PeriodFor(0.04));
        Assert.Equal(1_000_000, CpuQuotaGroups.PeriodFor(1e-9));
    }

    [Fact]
    public void Quotas_that_reach_the_core_count_or_are_not_positive_are_refused_before_anything_is_made()
    {
        var full = new Dictionary<(ClusterRole, int), double> { [(ClusterRole.Worker, 0)] = Environment.ProcessorCount };
        var zero = new Dictionary<(ClusterRole, int), double> { [(ClusterRole.Worker, 0)] = 0 };

        Assert.Contains("sum to less than", Assert.Throws<InvalidOperationException>(() => CpuQuotaGroups.Create(full, Log.Logger)).Message);
        Assert.Contains("positive", Assert.Throws<InvalidOperationException>(() => CpuQuotaGroups.Create(zero, Log.Logger)).Message);
    }

    [CgroupFact]
    public async Task A_process_started_through_its_launcher_runs_in_its_group_under_the_quota_and_the_group_goes_with_dispose()
    {
        string path;
        using (var groups = CpuQuotaGroups.Create(new Dictionary<(ClusterRole, int), double> { [(ClusterRole.Worker, 0)] = 0.05 }, Log.Logger))
        {
            path = groups.PathOf(ClusterRole.Worker, 0);
            var launcher = groups.Launcher(ClusterRole.Worker, 0);
            var info = new ProcessStartInfo(launcher[0]);
            foreach (var a in launcher.Skip(1).Concat(["/bin/sh", "-c", "while :; do :; done"])) info.ArgumentList.Add(a);
            using var busy = Process.Start(info)!;
            try
            {
                // The shell moves itself in, then execs in place: the same process id becomes the busy loop, in the group.
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (!(await File.ReadAllTextAsync($"/proc/{busy.Id}/cgroup", deadline.Token)).Contains(Path.GetFileName(path)))
                    await Task.Delay(20, deadline.Token);
                while (CpuCgroupHierarchy.ThrottledPeriods(path) == 0) await Task.Delay(50, deadline.Token);
                Assert.Contains(busy.Id.ToString(), await File.ReadAllTextAsync(Path.Join(path, CpuCgroupHierarchy.ProcsFile)));
            }
            finally
            {
                busy.Kill();
                await busy.WaitForExitAsync();
            }
        }

        Assert.False(Directory.Exists(path));
    }

    [CgroupFact]
    public async Task Groups_of_a_dead_run_are_removed_and_a_live_runs_are_kept()
    {
        using var dead = Process.Start("true")!;
        await dead.WaitForExitAsync();
        using var live = Process.Start("sleep", "60")!;
        var hierarchy = CpuCgroupHierarchy.Find(out _)!;
        string stale = Path.Join(hierarchy.Parent, $"{CpuQuotaGroups.Prefix}{dead.Id}-worker0");
        string kept = Path.Join(hierarchy.Parent, $"{CpuQuotaGroups.Prefix}{live.Id}-worker0");
        Directory.CreateDirectory(stale);
        Directory.CreateDirectory(kept);
        try
        {
            CpuQuotaGroups.RemoveStale(hierarchy, Log.Logger);

            Assert.False(Directory.Exists(stale));
            Assert.True(Directory.Exists(kept));
        }
        finally
        {
            live.Kill();
            hierarchy.Remove(stale);
            hierarchy.Remove(kept);
        }
    }

    [CgroupFact]
    public async Task Server_and_worker_processes_train_inside_their_quota_groups_and_the_model_stays_exact()
    {
        var settings = BspExactnessTests.Settings with { Workers = 2, Steps = 3, Accelerator = AcceleratorChoice.Simd, Processes = true };
        var quotas = HeteroBenchmark.Quotas(new HeteroBenchmarkOptions([2, 1], WorkerCores: 0.6, ServerCores: 0.3), [0.5, 1]);
        quotas[(ClusterRole.Server, 1)] = 0.3;   // the exactness run has two shards
        using var groups = CpuQuotaGroups.Create(quotas, Log.Logger);

        var result = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None, groups);

        FullBatchReference.AssertClose(FullBatchReference.Descend(settings), result.Parameters, 1e-5);
        // Each process ran in its own group and was held to its quota there (.NET's start-up alone exceeds 20 % of a core).
        foreach (var (role, index) in quotas.Keys)
            Assert.True(CpuCgroupHierarchy.ThrottledPeriods(groups.PathOf(role, index)) > 0, $"{role} {index} was never throttled in its group");
    }
}
