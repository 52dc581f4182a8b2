using GpuPs.Cli.Bench.Hetero;
using GpuPs.Worker;

namespace GpuPs.Integration.Tests.Bench;

public class StepAnatomyTests
{
    /// <summary>A step of worker <paramref name="w"/>: compute starts at <paramref name="start"/>, 1 ms load, 1 ms encode.</summary>
    private static WorkerStepPhases Phases(long step, double start, double compute, double push) =>
        new(step, 0, compute, 0.001, push, StartedAt: start, LoadSeconds: 0.001);

    [Fact]
    public void Each_worker_is_split_into_inbound_compute_device_push_and_its_wait_for_the_last()
    {
        // Step 1 closes at 10.500 (worker 1's push answered last). In step 2 worker 0 starts 5 ms later, computes
        // 300 ms and waits; worker 1 starts 20 ms later, computes 400 ms and closes the step.
        var workers = new Dictionary<int, IReadOnlyList<WorkerStepPhases>>
        {
            [0] = [Phases(1, 10.0, 0.3, 0.01), Phases(2, 10.505, 0.3, 0.004)],
            [1] = [Phases(1, 10.0, 0.488, 0.010), Phases(2, 10.520, 0.4, 0.006)],
        };

        var rows = StepAnatomy.Of(workers, from: 0);

        Assert.Equal([2L, 2L], rows.Select(r => r.Step));   // step 1's opening is unknown
        var (fast, slow) = (rows[0], rows[1]);
        Assert.Equal(5, fast.InboundMs, 6);
        Assert.Equal(20, slow.InboundMs, 6);
        Assert.Equal(2, fast.DeviceMs, 6);
        Assert.Equal(300, fast.ComputeMs, 6);
        Assert.Equal(4, fast.PushMs, 6);
        Assert.False(fast.Last);
        Assert.True(slow.Last);
        Assert.Equal(0, slow.WaitMs, 6);
        // Worker 0's push was answered at 10.505 + 0.306; the step closed at 10.520 + 0.408.
        Assert.Equal(10.928 - 10.811, fast.WaitMs / 1e3, 6);
        Assert.Equal(20 + 2 + 6, slow.FixedMs, 6);
        Assert.Contains(StepAnatomy.Summary(rows), l => l.Contains("worker 1") && l.Contains("closed 1/1 steps"));
    }
}
