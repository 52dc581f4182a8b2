using GpuPs.Core.Security;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Server.Tests;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// Over real gRPC: a worker asks for its push turn before sending a byte, and a push sent without asking (outside its
/// turn) while another holds the only turn is held by the service, its bytes unread, until that turn ends — then
/// applied: delayed, not lost. On a shard whose clock stands still (no turn ever expires): a push held at the edge for
/// its turn longer than the push idle timeout goes on once it gets the turn, and a push that fails after it got its turn
/// (a malformed stream) ends that turn with its call, so the next push is granted at once. With per-push turns (ASP): a
/// push after the worker's last step, or after the job finished, is answered Finished by its turn and reported Finished
/// (the job is done) by the client, not Refused; nothing of it is sent.
/// </summary>
public class PushTurnLoopbackTests
{
    [Fact]
    public async Task A_push_sent_outside_its_turn_is_held_until_the_turn_frees_and_then_applied()
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

        var turn = await client.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, Order = -1 }, ct);
        Assert.True(turn.Granted);
        var outside = client.PushAsync(new PushHeader(1, 0, 0, 1, 0), gradient, ct);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (shard.Turns!.Waiting == 0) await Task.Delay(10, guard.Token);
        Assert.False(outside.IsCompleted);
        Assert.Equal((0L, 1), (shard.Status().PushesApplied, shard.Turns.InFlight));

        Assert.True((await client.PushAsync(new PushHeader(0, 0, 0, 1, 0), gradient, ct)).IsApplied);
        var held = await outside.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(held.IsApplied && held.ClosedStep);
        var status = shard.Status();
        Assert.Equal((2L, 1, 2L), (status.PushesApplied, status.PushTurnsPeak, status.PushTurnsGranted));
        // A turn asked for a step that has closed is answered closed: nothing is sent.
        var closed = await client.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 1, Step = 0, Order = -1 }, ct);
        Assert.Equal((false, true, 1L), (closed.Granted, closed.Closed, closed.Step));
    }

    [Fact]
    public async Task A_failed_push_ends_its_turn_with_its_call_and_a_push_held_past_the_idle_timeout_goes_on()
    {
        var job = JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=100,features=3,classes=2", Model: Kernels.ModelKind.Logistic,
            Workers: 2, Steps: 5, Schedule: "round-robin"));
        var info = ShardLayout.Compute(job.ParameterCount, 1)[0];
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var shard = new ParameterShard(new ShardOptions(job, info, new OptimizerSettings(OptimizerKind.Sgd, 0.1f),
            JobBuilder.InitialParameters(job, info), Time: new ManualTimeProvider()), backend, Serilog.Core.Logger.None);
        var limits = new ServerLimits { PushIdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.Insecure, limits, Serilog.Core.Logger.None, CancellationToken.None);
        await using var client = new GrpcShardClient(host.Address.ToString(), JobAuth.Insecure);
        var ct = CancellationToken.None;
        for (int w = 0; w < 2; w++) await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = w }, ct);

        Assert.True((await client.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, Order = -1 }, ct)).Granted);
        var held = client.PushAsync(new PushHeader(1, 0, 0, 1, 0), new float[job.ParameterCount], ct);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (shard.Turns!.Waiting == 0) await Task.Delay(10, guard.Token);
        await Task.Delay(limits.PushIdleTimeout * 3);   // held at the edge, its first chunk read, well past the idle timeout

        // Worker 0's push under its turn breaks off: one value of the shard's.
        using var channel = GrpcChannel.ForAddress(host.Address);
        using (var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, new CallOptions()))
        {
            await call.RequestStream.WriteAsync(new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), 0, new float[1]));
            await call.RequestStream.CompleteAsync();
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        }

        var outcome = await held.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(outcome.IsApplied);
        var status = shard.Status();
        Assert.Equal((1L, 1, 2L), (status.PushesApplied, status.PushTurnsPeak, status.PushTurnsGranted));
        Assert.Equal(0, shard.Turns.InFlight);
    }

    [Fact]
    public async Task A_push_turn_after_the_last_step_is_reported_finished_and_nothing_is_sent()
    {
        using var shard = ShardFixture.Create(ShardFixture.Job(SyncMode.Asp, workers: 2, steps: 1) with { Schedule = PushSchedule.RoundRobin });
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.Insecure, Serilog.Core.Logger.None, CancellationToken.None);
        var ct = CancellationToken.None;
        var gradient = new float[ShardFixture.Length];

        for (int w = 0; w < 2; w++)
        {
            await using var client = new Worker.Client.ShardedParameterClient([NegotiatedShardClient.Connect(host.Address.ToString(), JobAuth.Insecure, TransportChoice.Grpc)],
                new Worker.Client.ShardedClientOptions(TimeSpan.FromSeconds(30), 1), Serilog.Core.Logger.None);
            await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = w }, ct);
            Assert.True(Assert.Single(await client.PushAsync(new PushHeader(w, 0, 0, 1, 0), gradient, ct)).IsApplied);

            // Worker 0's second push comes while worker 1 still runs; worker 1's after the job finished.
            var after = Assert.Single(await client.PushAsync(new PushHeader(w, 1, 0, 1, 0), gradient, ct));
            Assert.Equal((Core.Shards.PushOutcomeKind.Finished, true), (after.Kind, after.JobFinished));
            Assert.Contains("finished", after.Reason);
        }
        var status = shard.Status();
        Assert.Equal((2L, 0L, true), (status.PushesApplied, status.PushesRejected, status.Finished));
    }
}
