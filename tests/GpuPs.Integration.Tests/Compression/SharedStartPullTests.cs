using System.Runtime.InteropServices;
using GpuPs.Core.Compression;
using GpuPs.Core.Modes;
using GpuPs.Core.Security;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Client;
using GpuPs.Worker.Transport;
using Serilog;
using GpuPs.Server.Tests;
using GpuPs.Tests.Shared;
using ModelKind = GpuPs.Kernels.ModelKind;

namespace GpuPs.Integration.Tests.Compression;

/// <summary>
/// Compressed pulls without a first full pull, over real loopback sockets: a worker that registers while the shards hold
/// the job's seeded start takes that start as its copy, bit-identical to the shards' (checked by hash on both sides), so
/// its first pull is a delta; a worker that joins late, rejoins after eviction, meets a resumed shard or a shard started
/// from values it cannot derive gets the parameters in full, exactly.
/// </summary>
public class SharedStartPullTests
{
    private static readonly IComputeBackend Backend = Accelerators.Create(AcceleratorChoice.Simd);
    private static readonly OptimizerSettings Sgd = new(OptimizerKind.Sgd, 0.5f);

    private static TrainingJob Job(ModelShape model, SyncMode mode = SyncMode.Bsp, int heartbeatTimeoutMs = 60_000) => new()
    {
        Dataset = $"synthetic:rows=64,features={model.Features},classes={model.Classes}", Model = model, Mode = SyncModes.Of(mode),
        Workers = 2, Steps = 100, Seed = 7, HeartbeatTimeoutMs = heartbeatTimeoutMs,
        Compression = new CompressionSettings(Pull: CompressionKind.TopK, TopKRatio: 0.05),
    };

    private static readonly ModelShape Mlp = new(ModelKind.Mlp, 20, 4, 16);

    private static byte[] Bits(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>Every shard's parameters, concatenated in shard order (the whole vector).</summary>
    private static float[] Model(IReadOnlyList<ParameterShard> shards) => [.. shards.SelectMany(s => ShardFixture.Parameters(s))];

    private static float[] Gradient(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
    }

    /// <summary>Pushes a seeded gradient to every shard in process, as worker <paramref name="workerId"/> at <paramref name="step"/>.</summary>
    private static void PushInProcess(IReadOnlyList<ParameterShard> shards, int workerId, long step)
    {
        foreach (var shard in shards)
            Assert.True(shard.Push(new PushHeader(workerId, step, shard.Info.Index, 4, 1.0), Gradient((int)shard.Info.Length, workerId * 100 + shard.Info.Index)).IsApplied);
    }

    private sealed class Cluster(ParameterShard[] shards, GpuPsServerHost[] hosts, ShardedParameterClient client) : IAsyncDisposable
    {
        public ParameterShard[] Shards => shards;
        public ShardedParameterClient Client => client;

        public static async Task<Cluster> StartAsync(ParameterShard[] shards, TransportChoice transport)
        {
            var hosts = new GpuPsServerHost[shards.Length];
            for (int i = 0; i < shards.Length; i++)
                hosts[i] = await GpuPsServerHost.StartAsync(shards[i], "http://127.0.0.1:0", "tcp://127.0.0.1:0", JobAuth.Insecure, ServerLimits.Default,
                    Serilog.Core.Logger.None, CancellationToken.None);
            var client = new ShardedParameterClient(hosts.Select(h => NegotiatedShardClient.Connect(h.Address.ToString(), JobAuth.Insecure, transport)).ToArray(),
                null, Log.Logger);
            return new Cluster(shards, hosts, client);
        }

        public async ValueTask DisposeAsync()
        {
            await client.DisposeAsync();
            foreach (var host in hosts) await host.DisposeAsync();
            foreach (var shard in shards) shard.Dispose();
        }
    }

    /// <summary><paramref name="count"/> shards holding the job's seeded start, on <paramref name="time"/> (the system clock if null).</summary>
    private static ParameterShard[] Seeded(TrainingJob job, int count, TimeProvider? time = null) =>
        [.. ShardLayout.Compute(job.ParameterCount, count).Select(info =>
            new ParameterShard(new ShardOptions(job, info, Sgd, JobBuilder.InitialParameters(job, info), Time: time), Backend, Log.Logger))];

    [Theory]
    [InlineData(ModelKind.Logistic, 1)]
    [InlineData(ModelKind.Softmax, 2)]
    [InlineData(ModelKind.Mlp, 3)]
    public void The_start_a_worker_derives_from_the_seed_is_bit_identical_to_every_shards_start(ModelKind kind, int count)
    {
        var model = kind == ModelKind.Mlp ? Mlp : new ModelShape(kind, 20, kind == ModelKind.Logistic ? 2 : 4);
        var job = Job(model);
        var shards = Seeded(job, count);
        var replies = shards.Select(s => s.Register(new RegisterRequest { RequestedWorkerId = -1 })).ToArray();

        var starts = SharedStart.Derive(job, [.. shards.Select(s => s.Info)], [.. replies.Select(r => (ulong?)r.StartViewHash)]);
        for (int i = 0; i < count; i++)
        {
            Assert.True(replies[i].StartViewVersion > 0, $"shard {i} offered no start");
            Assert.Equal(SharedStart.Hash(ShardFixture.Parameters(shards[i])), replies[i].StartViewHash);
            Assert.Equal(Bits(ShardFixture.Parameters(shards[i])), Bits(starts[i]!));
        }
        foreach (var shard in shards) shard.Dispose();
    }

    [Theory]
    [InlineData(TransportChoice.Grpc)]
    [InlineData(TransportChoice.Tcp)]
    public async Task A_worker_registering_at_the_start_pulls_a_delta_first_and_holds_the_shards_parameters_bit_for_bit(TransportChoice transport)
    {
        var job = Job(Mlp);
        await using var cluster = await Cluster.StartAsync(Seeded(job, 2), transport);
        var joined = await cluster.Client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);
        foreach (var shard in cluster.Shards) shard.Register(new RegisterRequest { RequestedWorkerId = 1 });
        var parameters = new float[job.ParameterCount];

        // At the start the delta to the copy is empty: nothing crosses the wire but the headers, and the copy alone (the
        // start this worker derived) is what the pull hands back: bit for bit the shards' parameters.
        await cluster.Client.PullAsync(0, parameters, CancellationToken.None);
        Assert.Equal(0, cluster.Client.BytesPulled);
        Assert.Equal(Bits(Model(cluster.Shards)), Bits(parameters));

        // After a step the next pull is a top-k delta of the change: ⌈5 %⌉ of each shard, 8 bytes each, not 4 a value.
        await cluster.Client.PushAsync(new PushHeader(joined.WorkerId, 0, 0, 4, 1.0), Gradient(job.ParameterCount, 1), CancellationToken.None);
        PushInProcess(cluster.Shards, 1, 0);
        var pulled = await cluster.Client.PullAsync(1, parameters, CancellationToken.None);
        Assert.Equal(1, pulled.Step);
        long topK = cluster.Shards.Sum(s => (long)job.Compression.TopK((int)s.Info.Length)) * 8;
        Assert.Equal(topK, cluster.Client.BytesPulled);
    }

    [Theory]
    [InlineData("late")]
    [InlineData("resumed")]
    [InlineData("underivable")]
    public async Task A_worker_that_cannot_share_the_start_gets_its_first_pull_in_full_and_exact(string scenario)
    {
        var job = Job(Mlp, scenario == "late" ? SyncMode.Asp : SyncMode.Bsp);
        var shards = Seeded(job, 2);
        switch (scenario)
        {
            case "late":   // ASP applies worker 1's push at once: the shards have moved on when worker 0 joins
                foreach (var shard in shards) shard.Register(new RegisterRequest { RequestedWorkerId = 1 });
                PushInProcess(shards, 1, 0);
                break;
            case "resumed":   // restarted from a checkpoint of step 1
                foreach (var shard in shards) ShardFixture.RegisterAll(shard, 2);
                PushInProcess(shards, 0, 0);
                PushInProcess(shards, 1, 0);
                var checkpoints = shards.Select(s => s.Checkpoint()).ToArray();
                foreach (var shard in shards) shard.Dispose();
                shards = [.. checkpoints.Select((c, i) => ParameterShard.Create(job, Sgd, i, 2, Backend, Log.Logger, resume: c))];
                break;
            case "underivable":   // started from zeros, not from the job's seed: offered, but the worker's start hashes otherwise
                var infos = ShardLayout.Compute(job.ParameterCount, 2);
                foreach (var shard in shards) shard.Dispose();
                shards = [.. infos.Select(info => new ParameterShard(new ShardOptions(job, info, Sgd, new float[(int)info.Length]), Backend, Log.Logger))];
                break;
        }
        await using var cluster = await Cluster.StartAsync(shards, TransportChoice.Tcp);
        await cluster.Client.RegisterAsync(new RegisterRequest { RequestedWorkerId = scenario == "late" ? 0 : -1 }, CancellationToken.None);
        var parameters = new float[job.ParameterCount];

        await cluster.Client.PullAsync(0, parameters, CancellationToken.None);

        Assert.Equal(job.ParameterCount * sizeof(float), cluster.Client.BytesPulled);
        Assert.Equal(Bits(Model(cluster.Shards)), Bits(parameters));
    }

    [Fact]
    public async Task A_worker_that_rejoins_after_eviction_gets_its_next_pull_in_full_and_exact()
    {
        // The shards' clock moves only when the test says that 300 ms of silence passed: on the system clock, a loaded
        // machine spent more than 300 ms between the registrations and the pushes below (8 runs in 8 alone at load 20-36),
        // evicted worker 1 before worker 0's push, which then closed step 0 alone, and worker 1's push came late.
        var job = Job(Mlp, heartbeatTimeoutMs: 300);
        var clock = new ManualTimeProvider();
        await using var cluster = await Cluster.StartAsync(Seeded(job, 2, clock), TransportChoice.Tcp);
        await cluster.Client.RegisterAsync(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "first" }, CancellationToken.None);
        foreach (var shard in cluster.Shards) shard.Register(new RegisterRequest { RequestedWorkerId = 1 });
        var parameters = new float[job.ParameterCount];
        await cluster.Client.PullAsync(0, parameters, CancellationToken.None);
        Assert.Equal(0, cluster.Client.BytesPulled);   // the start, shared
        await cluster.Client.PushAsync(new PushHeader(0, 0, 0, 4, 1.0), Gradient(job.ParameterCount, 1), CancellationToken.None);
        PushInProcess(cluster.Shards, 1, 0);

        // Both fall silent (no heartbeats here) and are evicted after 300 ms; worker 0 rejoins under its id.
        clock.Advance(TimeSpan.FromMilliseconds(400));
        Assert.All(cluster.Shards, s => Assert.Equal(0, s.Status().LiveWorkers));
        await cluster.Client.RegisterAsync(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "second" }, CancellationToken.None);

        await cluster.Client.PullAsync(1, parameters, CancellationToken.None);
        Assert.Equal(job.ParameterCount * sizeof(float), cluster.Client.BytesPulled);
        Assert.Equal(Bits(Model(cluster.Shards)), Bits(parameters));
    }
}
