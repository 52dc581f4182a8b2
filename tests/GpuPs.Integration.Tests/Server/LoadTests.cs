using GpuPs.Core.Modes;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// Many clients at once against one server over real gRPC: 64 workers push deterministic gradients concurrently (ASP:
/// every push is an update), and the final parameters are exactly what the pushes add up to — no update lost, none
/// applied twice. Shortened for CI (64 × 20 steps); the values are exact in float32 (multiples of 2^-10), so equality is
/// exact, not approximate.
/// </summary>
public class LoadTests
{
    private const int Workers = 64, Steps = 20, Length = 4096;
    private const float LearningRate = 1f / 1024;

    [Fact]
    public async Task Sixty_four_concurrent_workers_lose_no_update_and_apply_none_twice()
    {
        var job = new TrainingJob
        {
            Model = new ModelShape(Kernels.ModelKind.Logistic, Length - 1, 2), Mode = SyncModes.Of(SyncMode.Asp),
            Workers = Workers, Steps = Steps, Dataset = "synthetic", HeartbeatTimeoutMs = 600_000,
        };
        using var backend = Accelerators.Create(AcceleratorChoice.Simd);
        var info = ShardLayout.Compute(Length, 1)[0];
        using var shard = new ParameterShard(new ShardOptions(job, info, new OptimizerSettings(OptimizerKind.Sgd, LearningRate), new float[Length]),
            backend, Log.Logger);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", auth, Log.Logger, CancellationToken.None);

        // Worker w pushes, at every step, gradient value (w % 4 + 1) at every coordinate over one row.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, Workers).Select(async w =>
        {
            await using var client = new GrpcShardClient(host.Address.ToString(), auth);
            var joined = await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = w, ClientToken = $"load-{w}" }, CancellationToken.None);
            var gradient = Enumerable.Repeat((float)(w % 4 + 1), Length).ToArray();
            var kinds = new List<PushOutcomeKind>();
            for (long t = 0; t < Steps; t++)
                kinds.Add((await client.PushAsync(new PushHeader(joined.WorkerId, t, 0, 1, 0.5), gradient, CancellationToken.None)).Kind);
            return kinds;
        }));

        Assert.All(outcomes.SelectMany(k => k), kind => Assert.Equal(PushOutcomeKind.Applied, kind));
        var status = shard.Status();
        Assert.Equal(Workers * Steps, status.PushesApplied);
        Assert.Equal(0, status.PushesRejected);
        // Σ over workers and steps of lr · (w % 4 + 1) = lr · Steps · 16 · (1 + 2 + 3 + 4) = 3200 / 1024 = 3.125, exactly.
        float expected = -LearningRate * Steps * (Workers / 4) * (1 + 2 + 3 + 4);
        var parameters = new float[Length];
        shard.CopyParameters(parameters);
        Assert.All(parameters, p => Assert.Equal(expected, p));
    }
}
