using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// Over real gRPC: a push that reaches the coordinator (shard 0 of a round-robin job) before its slot is held by the
/// service until the slot opens, then applied — delayed, not lost.
/// </summary>
public class SlotHoldLoopbackTests
{
    [Fact]
    public async Task A_push_sent_before_its_slot_is_held_until_the_slot_and_then_applied()
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100,features=3,classes=2", Model: Kernels.ModelKind.Logistic,
            Workers: 2, Steps: 5, Schedule: "round-robin"));
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var shard = ParameterShard.Create(job, new OptimizerSettings(OptimizerKind.Sgd, 0.1f), 0, 1, backend, Serilog.Core.Logger.None);
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.Insecure, Serilog.Core.Logger.None, CancellationToken.None);
        await using var client = new GrpcShardClient(host.Address.ToString(), JobAuth.Insecure);
        var ct = CancellationToken.None;
        for (int w = 0; w < 2; w++) await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = w }, ct);
        var gradient = new float[job.ParameterCount];

        // Step 0: both report 0.1 s of compute and a push that takes 1 s; the plan lets the second push 2.1 s into a step.
        for (int w = 0; w < 2; w++)
        {
            await client.HeartbeatAsync(new HeartbeatRequest { WorkerId = w, ComputeSeconds = 0.1, PushSeconds = 1, SlotVersion = 1 }, ct);
            Assert.True((await client.PushAsync(new PushHeader(w, 0, 0, 1, 0), gradient, ct)).IsApplied);
        }
        var slots = new PushSlot[2];
        for (int w = 0; w < 2; w++) slots[w] = (await client.HeartbeatAsync(new HeartbeatRequest { WorkerId = w }, ct)).PushSlot;
        int second = slots[0].Order == 1 ? 0 : 1;
        Assert.Equal(2.1, slots[second].PushAtSeconds, 9);
        var early = new PushHeader(second, 1, 0, 1, 0);
        Assert.True(shard.SlotWait(early) > TimeSpan.Zero);

        // The second worker pushes step 1 at once, 2 s before its slot: the call returns only once the slot has come.
        var outcome = await client.PushAsync(early, gradient, ct);

        Assert.True(outcome.IsApplied);
        Assert.Equal(TimeSpan.Zero, shard.SlotWait(early));
        Assert.Equal(3, shard.Status().PushesApplied);
    }
}
