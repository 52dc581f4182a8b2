using GpuPs.Cli.Cluster;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// A worker's pulled-bytes counter (<c>WorkerReport.BytesPulled</c>) counts the pulls that come back with a push over the
/// TCP data plane (PushPull frames) as well as separate ones: every pull reply the shards sent, 4 bytes a parameter.
/// </summary>
public class FusedPullBytesTests
{
    [Fact]
    public async Task A_fused_runs_pulled_bytes_are_the_bytes_the_shards_sent()
    {
        var job = TransportEquivalenceTests.Settings with { Transport = TransportChoice.Tcp, Mode = SyncMode.Bsp };
        var run = await TrainingRun.RunAsync(job, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(job.Steps, run.Steps);
        // BSP: one pull before the first step, then every push brings the next step's parameters (the last: the end),
        // each a whole-shard PullReply from both shards: the parameter count in float32.
        Assert.All(run.WorkerReports, r =>
        {
            Assert.Equal(job.Steps, r.FusedPulls);
            Assert.Equal((r.FusedPulls + 1) * run.ParameterCount * sizeof(float), r.BytesPulled);
        });
    }
}
