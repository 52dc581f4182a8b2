using GpuPs.Cli.Cluster;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Round-robin push slots (R2SP) over real gRPC on loopback: two shards, workers pushing in the coordinator's slots, end
/// with the model one shard ends with when every worker pushes at once — in BSP and in the coded mode, whose first
/// decodable set still closes each step — and the workers learned their slots from the coordinator.
/// </summary>
public class RoundRobinTrainingTests
{
    [Theory]
    [InlineData(SyncMode.Bsp, 0)]
    [InlineData(SyncMode.Coded, 1)]
    public async Task Two_shards_round_robin_train_the_model_one_shard_trains_simultaneously(SyncMode mode, int stragglers)
    {
        var simultaneous = CodedTrainingTests.Settings with { Mode = mode, Stragglers = stragglers, Steps = 12 };
        var roundRobin = simultaneous with { Servers = 2, Schedule = "round-robin", PushConcurrency = 1 };

        var one = await TrainingRun.RunAsync(simultaneous, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var two = await TrainingRun.RunAsync(roundRobin, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(one.Steps, two.Steps);
        // Both follow full-batch descent (coded: the decode is exact whichever responders close a step).
        FullBatchReference.AssertClose(FullBatchReference.Descend(simultaneous), one.Parameters, 1e-5);
        FullBatchReference.AssertClose(FullBatchReference.Descend(simultaneous), two.Parameters, 1e-5);
        // Every worker learned a slot from the coordinator (coded: at least a smallest decodable set, which closes the
        // steps; a worker the decodable set always beats may never finish a step before its slot). Auto picks the
        // fractional code here ((s + 1) divides n), whose smallest decodable set is one worker per group: n / (s + 1).
        Assert.True(two.WorkerReports.Count(w => w.PushSlotVersion > 0) >= roundRobin.Workers / (stragglers + 1),
            string.Join(", ", two.WorkerReports.Select(w => $"worker {w.WorkerId}: slot version {w.PushSlotVersion}")));
        Assert.All(one.WorkerReports, w => Assert.Equal(0, w.PushSlotVersion));
    }
}
