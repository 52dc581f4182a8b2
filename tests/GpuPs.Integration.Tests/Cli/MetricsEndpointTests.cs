using GpuPs.Core.Security;

namespace GpuPs.Integration.Tests.Cli;

/// <summary><c>gpups server --metrics-port</c> serves the shard's Prometheus series over plain HTTP/1.1 beside gRPC.</summary>
public class MetricsEndpointTests
{
    [Fact]
    public async Task A_server_with_a_metrics_port_serves_its_series_over_http()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        int port = Ports.Free();
        var (process, _) = await ServerProcess.StartAsync(["--metrics-port", port.ToString(), "--dataset", "synthetic:rows=100,features=3,classes=2",
            "--workers", "2"], JobToken.Generate(), guard.Token);
        await using var server = process;

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics", guard.Token);

        Assert.Contains("gpups_shard_steps_total", metrics);
        Assert.Contains("gpups_shard_step{shard=\"0\"}", metrics);
    }
}
