using GpuPs.Cli.Bench.Overhead;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// <c>gpups bench overhead</c> on a short real run: every worker's every measured step has its timeline (pull, compute,
/// encode, push), the shard has a step and an update time for every step it closed, and the summary is made of them.
/// </summary>
public class OverheadBenchmarkTests
{
    [Fact]
    public async Task A_short_bsp_run_has_a_timeline_for_every_worker_step_and_every_shard_step()
    {
        var options = new OverheadBenchmarkOptions(["bsp"], Steps: 12, Warmup: 2);
        var lines = new List<string>();

        var (rows, timeline) = await OverheadBenchmark.RunAsync(options, Log.Logger, lines.Add, CancellationToken.None);

        var row = Assert.Single(rows);
        Assert.Equal(("bsp", "tcp", 10), (row.Mode, row.Transport, row.StepsMeasured));
        // BSP with no delay: no worker is ever left out, so all 8 have phases for steps 2..11, each phase measured. Encode
        // is a copy of a 100-value gradient with the float32 wire: it can round to 0.0000 ms, so it is only never negative.
        var workerSteps = timeline.Where(t => t.Worker >= 0).ToList();
        Assert.Equal(Enumerable.Range(0, 8).SelectMany(w => Enumerable.Range(2, 10).Select(s => (w, (long)s))).Order(),
            workerSteps.Select(t => (t.Worker, t.Step)).Order());
        Assert.All(workerSteps, t => Assert.True(t.ComputeMs > 0 && t.PushMs > 0 && t.PullMs > 0 && t.EncodeMs >= 0, $"step {t.Step} of worker {t.Worker}"));
        // The shard closed all 12 steps, each by a push whose sum and update took time and fit in the step.
        var shardSteps = timeline.Where(t => t.Worker == -1).ToList();
        Assert.Equal(Enumerable.Range(0, 12).Select(s => (long)s), shardSteps.Select(t => t.Step));
        Assert.All(shardSteps, t => Assert.True(t.ShardUpdateMs > 0 && t.ShardUpdateMs < t.ShardStepMs, $"shard step {t.Step}"));
        Assert.Equal(workerSteps.Average(t => t.ComputeMs), row.ComputeMs, 9);
        Assert.Equal(shardSteps.Skip(2).Average(t => t.ShardUpdateMs), row.ShardUpdateMs, 9);
        Assert.InRange(row.StepP50Ms, 0, row.StepP99Ms);
    }
}
