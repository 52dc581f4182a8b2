using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Client;
using GpuPs.Worker.Tests.Fakes;
using Serilog;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;

namespace GpuPs.Worker.Tests;

/// <summary>A worker restarted under its old id waits for the server to evict its silent predecessor, and no longer.</summary>
public class RegistrationTests : IDisposable
{
    private readonly ManualTimeProvider _clock = new();
    private readonly IComputeBackend _backend = Accelerators.Create(AcceleratorChoice.Simd);
    private readonly ParameterShard _shard;

    public RegistrationTests()
    {
        var job = new TrainingJob
        {
            Dataset = "synthetic:rows=40,features=3,classes=2", Model = new ModelShape(Kernels.ModelKind.Logistic, 3, 2),
            Mode = SyncModes.Of(SyncMode.Bsp), Workers = 2, Steps = 3, Seed = 1, HeartbeatTimeoutMs = 300,
        };
        _shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Length = 4 },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[4], _clock), _backend, Log.Logger);
        _shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "crashed worker 0" });
        _shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "worker 1" });
    }

    [Fact]
    public async Task A_restarted_worker_rejoins_under_its_id_once_the_crashed_holder_is_evicted()
    {
        await using var client = new ShardedParameterClient([new InProcessShard(_shard).Connect()], new ShardedClientOptions(), Log.Logger);
        var joining = client.RegisterAsync(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "restarted worker 0" }, CancellationToken.None);
        await Task.Delay(700);   // at least one refused attempt and one retry
        Assert.False(joining.IsCompleted, "the live slot was taken over");

        _clock.Advance(TimeSpan.FromMilliseconds(500));   // both silent for 500 ms > 300 ms: evicted
        var joined = await joining.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, joined.WorkerId);
        Assert.Equal(0, client.WorkerId);
    }

    [Fact]
    public async Task A_worker_whose_id_stays_held_gives_up_after_the_slot_wait()
    {
        var options = new ShardedClientOptions { SlotWait = TimeSpan.FromMilliseconds(300) };
        await using var client = new ShardedParameterClient([new InProcessShard(_shard).Connect()], options, Log.Logger);

        var e = await Assert.ThrowsAsync<ShardException>(() =>
            client.RegisterAsync(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "second worker 0" }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(ShardErrorKind.SlotTaken, e.Kind);
        Assert.Contains("worker 0 is held by another live client", e.Message);
        Assert.Equal(-1, client.WorkerId);
    }

    public void Dispose()
    {
        _shard.Dispose();
        _backend.Dispose();
    }
}
