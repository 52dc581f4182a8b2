using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// <c>gpups train</c>'s per-step breakdown over a real embedded run (loopback data plane, an ILGPU CPU-accelerator worker
/// beside SIMD ones, top-k compressed pushes, one worker injected 2 ms late every step): every measured part of every
/// step lies within the step, the steps tile each worker's time as the shard's own step log does, and the table's parts
/// add up to its step.
/// </summary>
public class StepBreakdownTests
{
    private static readonly TrainSettings Settings = BspExactnessTests.Settings with
    {
        Workers = 3, Servers = 1, Steps = 30, BatchSize = 16, Accelerator = WorkerAccelerators.Parse("cpu+simd+simd"),
        StragglerModel = "persistent:workers=1,delay=0.002", Compression = "topk",
    };

    [Fact]
    public async Task Every_part_lies_within_the_step_and_the_parts_add_up_to_it()
    {
        var job = JobFactory.CreateJob(Settings);
        await using var cluster = await EmbeddedCluster.StartAsync(Settings, job, Log.Logger, CancellationToken.None);
        var reports = await cluster.RunWorkersAsync(CancellationToken.None);
        await using var observer = new GrpcShardClient(cluster.ServerAddresses[0], cluster.Auth);
        var shardSteps = (await observer.StatusAsync(CancellationToken.None, TimeSpan.FromSeconds(10))).StepSeconds;
        var breakdown = StepBreakdown.Of(reports);

        Assert.NotNull(breakdown);
        Assert.Equal(new[] { 0, 1, 2 }, breakdown.Workers.Select(w => w.Worker));
        Assert.StartsWith("ILGPU CPU accelerator", breakdown.Workers[0].Device);
        Assert.All(breakdown.Workers.Skip(1), w => Assert.StartsWith("CPU SIMD", w.Device));
        Assert.Equal(-1, breakdown.Overall.Worker);
        Assert.Equal(breakdown.Workers.Sum(w => w.Steps), breakdown.Overall.Steps);
        foreach (var row in breakdown.Workers.Append(breakdown.Overall))
        {
            Assert.Equal(Settings.Steps - StepBreakdown.WarmupSteps, row.Worker < 0 ? row.Steps / 3 : row.Steps);
            Assert.All(new[] { row.ComputeMs, row.PullMs, row.PushMs, row.CompressMs, row.DelayMs, row.OtherMs }, part => Assert.True(part >= -1e-3, $"{row}"));
            Assert.Equal(row.StepMs, row.ComputeMs + row.PullMs + row.PushMs + row.CompressMs + row.DelayMs + row.OtherMs, 1e-9);
            Assert.Equal(1.0, row.ComputeShare + row.PullShare + row.PushShare + row.CompressShare + row.DelayShare + row.OtherShare, 1e-9);
            Assert.True(row.ComputeMs > 0 && row.CompressMs > 0, $"{row}");
        }
        // The injected delay is its own part, never shorter than asked, and only worker 1's.
        Assert.True(breakdown.Workers[1].DelayMs >= 2.0, $"{breakdown.Workers[1]}");
        Assert.All(new[] { breakdown.Workers[0], breakdown.Workers[2] }, w => Assert.True(w.DelayMs < 1.0, $"{w}"));

        foreach (var report in reports)
        {
            var phases = report.StepPhases;
            Assert.Equal(Settings.Steps, phases.Count);
            // Per step: no part is negative and together they never exceed the step (what they leave is the host's own time).
            foreach (var p in phases)
            {
                Assert.All(new[] { p.PullSeconds, p.LoadSeconds, p.ComputeSeconds, p.EncodeSeconds, p.CompressSeconds, p.DelaySeconds, p.PushSeconds },
                    part => Assert.True(part >= 0, $"worker {report.WorkerId}: {p}"));
                Assert.True(p.CompressSeconds <= p.EncodeSeconds, $"worker {report.WorkerId}: {p}");
                Assert.True(p.OtherSeconds >= -1e-6, $"worker {report.WorkerId}: the parts exceed the step: {p}");
            }
            // The steps tile the worker's time: from step a's end to step b's, the worker's steps add up to the shard's
            // (close to close), but for where each end lies within its step on either side.
            const int a = 2, b = 27;
            double worker = phases.Where(p => p.Step > a && p.Step <= b).Sum(p => p.WallSeconds);
            double shard = shardSteps.Skip(a + 1).Take(b - a).Sum();
            double slack = Math.Max(phases[a].WallSeconds, shardSteps[a]) + Math.Max(phases[b].WallSeconds, shardSteps[b]);
            Assert.True(Math.Abs(worker - shard) <= slack, $"worker {report.WorkerId}: steps {a + 1}..{b} took {worker * 1e3:F3} ms, the shard's {shard * 1e3:F3} ms (slack {slack * 1e3:F3} ms)");
        }
    }
}
