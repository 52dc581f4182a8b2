using GpuPs.Cli.Bench;
using GpuPs.Cli.Settings;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// <c>gpups bench stragglers|hetero --accelerator LIST</c>: the benchmarks' runs train on the devices asked for (the ILGPU
/// CPU accelerator standing in for CUDA here), and every row names them. Tiny grids; nothing is timed.
/// </summary>
public class BenchAcceleratorTests
{
    private const string Mixed = "cpu+simd";

    [Fact]
    public async Task Straggler_runs_train_on_the_listed_devices()
    {
        var options = new StragglerBenchmarkOptions
        {
            Workers = 2, Stragglers = [1], Schemes = [StragglerScheme.Bsp], Delays = ["none"], Steps = 5, UnitSeconds = 0.001,
            Dataset = "synthetic:rows=400,features=10,classes=2,separation=2", Accelerator = WorkerAccelerators.Parse(Mixed),
        };
        var result = await StragglerBenchmark.RunAsync(options, _ => { }, Log.Logger, CancellationToken.None);

        var row = Assert.Single(result.Rows);
        Assert.Matches(@"^ILGPU CPU accelerator \(.*\): worker 0; CPU SIMD \(.*\): worker 1$", row.Devices);
    }

    [Fact]
    public async Task Hetero_runs_train_on_the_listed_devices()
    {
        var options = new HeteroBenchmarkOptions([2, 1], Steps: 3, Warmup: 2, Dataset: "synthetic:rows=400,features=10,classes=2",
            Slowdown: HeteroSlowdown.Throttle, Scenarios: ["proportional"]) { Accelerator = WorkerAccelerators.Parse(Mixed) };
        var rows = await HeteroBenchmark.RunAsync(options, _ => { }, Log.Logger, CancellationToken.None);

        Assert.Equal(["equal speeds, uniform bsp (unit)", "1:2, proportional bsp"], rows.Select(r => r.Scenario));
        Assert.All(rows, r => Assert.Matches(@"^ILGPU CPU accelerator \(.*\): worker 0; CPU SIMD \(.*\): worker 1$", r.Devices));
    }
}
