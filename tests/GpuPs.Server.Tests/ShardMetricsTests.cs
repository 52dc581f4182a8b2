using GpuPs.Protocol;
using GpuPs.Server.Observers;
using Prometheus;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary><see cref="ShardMetrics"/>: the Prometheus series follow the shard's events.</summary>
public class ShardMetricsTests
{
    [Fact]
    public async Task Steps_refusals_and_membership_show_in_the_exported_series()
    {
        var registry = Metrics.NewCustomRegistry();
        using var shard = Create(Job(SyncMode.Backup, workers: 3, steps: 5) with { Stragglers = 1 }, Filled(1f),
            observers: [new ShardMetrics(registry, shard: 0)]);
        RegisterAll(shard, 3);
        for (long t = 0; t < 2; t++)
        {
            shard.Push(new PushHeader(0, t, 0, 1, 2), Filled(1f));
            shard.Push(new PushHeader(1, t, 0, 1, 2), Filled(1f));   // n − s = 2: closes step t
            shard.Push(new PushHeader(2, t, 0, 1, 2), Filled(1f));   // late
        }

        using var text = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(text);
        string exported = System.Text.Encoding.UTF8.GetString(text.ToArray());

        Assert.Contains("gpups_shard_steps_total{shard=\"0\"} 2", exported);
        Assert.Contains("gpups_shard_step{shard=\"0\"} 2", exported);
        Assert.Contains("gpups_shard_mean_loss{shard=\"0\"} 2", exported);
        Assert.Contains("gpups_shard_pushes_refused_total{shard=\"0\",outcome=\"late\"} 2", exported);
        Assert.Contains("gpups_shard_membership_events_total{shard=\"0\",event=\"registered\"} 3", exported);
        Assert.Contains("gpups_shard_step_seconds_count{shard=\"0\"} 2", exported);
    }
}
