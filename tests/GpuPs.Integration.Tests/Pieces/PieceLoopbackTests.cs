using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Integration.Tests.DataPlane;
using GpuPs.Integration.Tests.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Transport;
using Serilog;
using static GpuPs.Server.Tests.Pieces.PieceFixture;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Integration.Tests.Pieces;

/// <summary>
/// Pushes and pulls split into pieces over real loopback sockets, on both planes: the server reassembles a push from
/// pieces sent out of order into exactly the model whole pushes give, a piece pull returns its range, and whole training
/// runs with pieces (many per shard, a credit of a few pieces, both planes) end with the model of the same run without
/// pieces — BSP, and coded with real decode weights.
/// </summary>
public class PieceLoopbackTests
{
    private static Task<GpuPsServerHost> Serve(ParameterShard shard) =>
        GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", JobAuth.Insecure, ServerLimits.Default, Serilog.Core.Logger.None, CancellationToken.None);

    private static async Task<NegotiatedShardClient> JoinAsync(GpuPsServerHost host, int worker, TransportChoice transport)
    {
        var client = new NegotiatedShardClient(host.Address.ToString(), JobAuth.Insecure, transport);
        await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = worker }, CancellationToken.None);
        return client;
    }

    [Theory]
    [InlineData(TransportChoice.Grpc)]
    [InlineData(TransportChoice.Tcp)]
    public async Task Pieces_sent_out_of_order_over_the_wire_give_the_model_of_whole_pushes(TransportChoice transport)
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        await using var host = await Serve(shard);
        await using var worker0 = await JoinAsync(host, 0, transport);
        await using var worker1 = await JoinAsync(host, 1, transport);

        var header = new PushHeader(0, 0, 0, 2, 1.0);
        Assert.False((await worker0.PushAsync(header with { Piece = new(5, 3) }, Gradient0.AsMemory(5, 3), CancellationToken.None)).ClosedStep);
        Assert.False((await worker0.PushAsync(header with { Piece = new(0, 5) }, Gradient0.AsMemory(0, 5), CancellationToken.None)).ClosedStep);
        // A retried piece (its answer lost) is held once; the push completed, so it is now a duplicate.
        Assert.Equal(Core.Shards.PushOutcomeKind.Duplicate, (await worker0.PushAsync(header with { Piece = new(0, 5) }, Gradient0.AsMemory(0, 5), CancellationToken.None)).Kind);
        Assert.Equal(Filled(1f), Parameters(shard));
        var closing = await worker1.PushAsync(header with { WorkerId = 1 }, Gradient1, CancellationToken.None);

        Assert.True(closing.ClosedStep);
        Assert.Equal(WholePushes(), Parameters(shard));
        var piece = new float[4];
        var pulled = await worker1.PullPieceAsync(1, 1, new PieceRange(2, 4), piece, Length, CancellationToken.None);
        Assert.Equal(WholePushes()[2..6], piece);
        Assert.Equal((1L, 2L, 4), (pulled.Step, pulled.Offset, pulled.Length));
    }

    [Theory]
    [InlineData(TransportChoice.Grpc)]
    [InlineData(TransportChoice.Tcp)]
    public async Task A_ranges_pull_is_answered_over_the_wire_when_it_closes_before_the_steps_last_range(TransportChoice transport)
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3) with { PieceFloats = 4 }, Filled(1f));
        await using var host = await Serve(shard);
        await using var worker0 = await JoinAsync(host, 0, transport);
        await using var worker1 = await JoinAsync(host, 1, transport);
        var ranges = shard.ClosingRanges!;
        var first = new float[ranges[0].Length];
        var last = new float[ranges[^1].Length];
        var firstPull = worker0.PullPieceAsync(0, 1, ranges[0], first, Length, CancellationToken.None);
        var lastPull = worker0.PullPieceAsync(0, 1, ranges[^1], last, Length, CancellationToken.None);

        var header = new PushHeader(0, 0, 0, 2, 1.0);
        foreach (var (client, worker, gradient) in new[] { (worker1, 1, Gradient1), (worker0, 0, Gradient0) })
            await client.PushAsync(header with { WorkerId = worker, Piece = ranges[0] }, gradient.AsMemory(ranges[0].Offset, ranges[0].Length), CancellationToken.None);
        var pulled = await firstPull.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((1L, 0L), (pulled.Step, pulled.Offset));
        Assert.Equal(WholePushes()[..ranges[0].Length], first);
        Assert.False(lastPull.IsCompleted);   // its range waits for its pieces
        foreach (var (client, worker, gradient) in new[] { (worker0, 0, Gradient0), (worker1, 1, Gradient1) })
            foreach (var range in ranges.Skip(1).Reverse())
                await client.PushAsync(header with { WorkerId = worker, Piece = range }, gradient.AsMemory(range.Offset, range.Length), CancellationToken.None);
        await lastPull.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(WholePushes()[ranges[^1].Offset..], last);
        Assert.Equal(WholePushes(), Parameters(shard));
    }

    [Fact]
    public async Task A_worker_without_pieces_of_its_own_sends_and_pulls_the_ranges_its_shards_close()
    {
        var job = Job(SyncMode.Bsp, workers: 1, steps: 3) with { PieceFloats = 4 };
        using var shard = Create(job, Filled(1f));
        await using var host = await Serve(shard);
        var log = new CapturedLog();
        await using var client = new Worker.Client.ShardedParameterClient([NegotiatedShardClient.Connect(host.Address.ToString(), JobAuth.Insecure, TransportChoice.Tcp)],
            new Worker.Client.ShardedClientOptions(TimeSpan.FromSeconds(30), 3) { Pieces = new PieceOptions(PieceFloats: 2) }, log.Logger);
        await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);

        Assert.Equal(shard.ClosingRanges, client.PieceLinks![0].Plan().Select(p => p.Range));
        // One range in flight per push link (ranges close one after another), two per pull link (the next range's pull
        // already waits on the shard when its range closes).
        Assert.Equal((4L * sizeof(float), 8L * sizeof(float)), (client.PieceLinks[0].Push.CreditBytes, client.PieceLinks[0].Pull.CreditBytes));
        Assert.Contains(log.Events, e => e.MessageTemplate.Text.Contains("are not used", StringComparison.Ordinal));   // its own 2-value pieces
        await client.PushAsync(new PushHeader(0, 0, 0, 2, 1.0), Gradient0, CancellationToken.None);
        var parameters = new float[Length];
        Assert.Equal(1, (await client.PullAsync(1, parameters, CancellationToken.None)).Step);
        Assert.Equal(Parameters(shard), parameters);
        Assert.Equal(Filled(1f).Select((p, i) => p - Gradient0[i] / 2), parameters);
    }

    [Fact]
    public async Task A_piece_outside_the_shard_is_refused_with_a_clear_error_on_both_planes()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        await using var host = await Serve(shard);
        foreach (var (transport, worker) in new[] { (TransportChoice.Grpc, 0), (TransportChoice.Tcp, 1) })
        {
            await using var client = new NegotiatedShardClient(host.Address.ToString(), JobAuth.Insecure, transport);
            await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = worker }, CancellationToken.None);
            var push = await Assert.ThrowsAsync<Core.Shards.ShardException>(() =>
                client.PushAsync(new PushHeader(worker, 0, 0, 2, 1.0, Piece: new(6, 4)), new float[4], CancellationToken.None));
            Assert.Contains("piece [6, 10) is not a non-empty range of the shard's 8 parameters", push.Message);
            var pull = await Assert.ThrowsAsync<Core.Shards.ShardException>(() =>
                client.PullPieceAsync(worker, 0, new PieceRange(7, 2), new float[2], Length, CancellationToken.None));
            Assert.Contains("not a", pull.Message);
        }
        Assert.Equal(Filled(1f), Parameters(shard));
    }

    [Theory]
    [InlineData(SyncMode.Bsp, 0, TransportChoice.Tcp)]
    [InlineData(SyncMode.Bsp, 0, TransportChoice.Grpc)]
    [InlineData(SyncMode.Coded, 2, TransportChoice.Tcp)]
    public async Task Training_with_pieces_gives_the_model_of_the_same_run_with_whole_tensors(SyncMode mode, int stragglers, TransportChoice transport)
    {
        var job = TransportEquivalenceTests.Settings with { Mode = mode, Stragglers = stragglers, Code = mode == SyncMode.Coded ? "cyclic" : "auto", Transport = transport };
        // 51 parameters in two shards of 26 and 25: pieces of 4 values, at most three (48 bytes) in flight per link.
        var pieced = job with { Pieces = new PieceOptions(PieceFloats: 4, CreditBytes: 48) };
        var plain = await TrainingRun.RunAsync(job, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var log = new CapturedLog();
        var split = await TrainingRun.RunAsync(pieced, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);

        Assert.Equal(job.Steps, split.Steps);
        FullBatchReference.AssertClose(plain.Parameters.Select(v => (double)v).ToArray(), split.Parameters, 1e-6);
        FullBatchReference.AssertClose(FullBatchReference.Descend(job), split.Parameters, 1e-5);
        Assert.Contains("--piece-size 4 --credit-bytes 48", split.Command);
        var assembled = log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Shard {Shard} assembled", StringComparison.Ordinal)
                                              && CapturedLog.Property(e, "Shard") is 0).ToList();
        var rangesApplied = log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Shard {Shard} applied {Ranges} range(s)", StringComparison.Ordinal)).ToList();
        if (mode == SyncMode.Bsp)
        {
            // BSP closes per range: each piece was taken as it came, nothing was assembled, and ranges closed before their
            // step did, on both shards (the job's ranges: shard 0's 26 values in seven).
            Assert.Empty(assembled);
            Assert.Contains(rangesApplied, e => CapturedLog.Property(e, "Shard") is 0);
            Assert.Contains(rangesApplied, e => CapturedLog.Property(e, "Shard") is 1);
        }
        else
        {
            // Coded decodes the step's first decodable set once for the whole shard: pushes are assembled whole. Shard 0
            // (26 values) assembled seven-piece pushes, at least one per step.
            Assert.Empty(rangesApplied);
            Assert.True(assembled.Count >= job.Steps, $"{assembled.Count} pushes assembled from pieces on shard 0 in {job.Steps} steps");
            Assert.All(assembled, e => Assert.Equal(7, CapturedLog.Property(e, "Pieces")));
        }
    }
}
