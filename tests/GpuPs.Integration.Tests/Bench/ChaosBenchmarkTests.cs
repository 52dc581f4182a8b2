using GpuPs.Cli.Bench.Chaos;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// Issue 11, <c>gpups bench chaos</c> shortened for CI: a server and a worker killed and restarted, every connection to a
/// server dropped, and a hostile burst, on real processes; the job finishes with no update lost and the model of the
/// fault-free run, and every bad input is refused.
/// </summary>
public class ChaosBenchmarkTests
{
    [Fact]
    public async Task A_short_chaos_run_survives_every_fault_and_ends_with_the_fault_free_model()
    {
        var result = await ChaosBenchmark.RunAsync(seed: 7, faults: 4, steps: 120, ["kill-server", "kill-worker", "drop-connections", "hostile-burst"],
            TimeSpan.FromMinutes(3), Log.Logger, _ => { }, CancellationToken.None);

        Assert.True(result.Faults.Count >= 2, $"{result.Faults.Count} faults injected");
        Assert.Equal(result.Faults.Count, result.Survived);
        Assert.Equal((120L, 0L), (result.Steps, result.UpdatesLost));
        Assert.True(result.MaxDeviation <= 1e-6, $"the model is {result.MaxDeviation} from the fault-free run's");
        Assert.Equal(result.BadInputsTried, result.BadInputsRefused);
        Assert.Equal(0, result.BadInputsAccepted);
        Assert.True(result.PeakServerBytes > 0);
    }
}
