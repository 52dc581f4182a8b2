using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Tests.Fakes;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// A worker of a job whose shards close per range (BSP, the job's piece size) that retries a piece or rejoins mid-step:
/// a piece's Duplicate or Late speaks for its range only, so the worker still sends the other ranges, which wait for it,
/// and a pull whose ranges came back at different steps is not forced to the newest (whose ranges wait for this worker's
/// own push). Before, either case left the step open for ever. And a bad gradient sends no piece at all, since each
/// range is applied as it closes.
/// </summary>
public class PerRangeClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Two BSP workers, one shard of 21 values closing ranges of 4: [0,4) … [16,18) [18,21).</summary>
    private static InProcessCluster Cluster(int workers = 2) =>
        new(SmallJob.Softmax(SyncMode.Bsp, workers, steps: 4) with { PieceFloats = 4 }, shards: 1, learningRate: 0.5f, pieces: true);

    private static async Task<ShardedParameterClient> JoinedAsync(InProcessCluster cluster)
    {
        var client = cluster.Client(new ShardedClientOptions { Pieces = new PieceOptions(PieceFloats: 4) });
        await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        return client;
    }

    [Theory]
    [InlineData(0, 0)]    // no --piece-size: the job's ranges all the same
    [InlineData(8, 0)]    // a piece size of the worker's own is not used
    [InlineData(4, 48)]   // a credit the worker set is kept, on both links
    public async Task A_job_whose_shards_close_per_range_sets_the_pieces_to_its_ranges_one_range_in_flight_to_push_two_to_pull(int ownPiece, long ownCredit)
    {
        using var cluster = Cluster(workers: 1);
        await using var client = cluster.Client(new ShardedClientOptions { Pieces = ownPiece == 0 ? null : new PieceOptions(ownPiece, ownCredit) });
        await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);

        var link = Assert.Single(client.PieceLinks!);
        Assert.Equal(4, link.PieceFloats);
        Assert.Equal(ownCredit > 0 ? (ownCredit, ownCredit) : (4 * sizeof(float), 2 * 4 * sizeof(float)), (link.Push.CreditBytes, link.Pull.CreditBytes));
        var pushed = Assert.Single(await client.PushAsync(new PushHeader(client.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));
        Assert.True(pushed is { IsApplied: true, Step: 1 }, pushed.ToString());
        var parameters = new float[SmallJob.Parameters];
        Assert.Equal(1, (await client.PullAsync(1, parameters, CancellationToken.None).WaitAsync(Bound)).Step);
        Assert.Equal(cluster.Parameters(), parameters);
        // Every push and pull went as one of the shard's closing ranges.
        var ranges = cluster.Shards[0].ClosingRanges!;
        Assert.All(cluster.Fakes[0].Transfers, t => Assert.Contains(t.Piece!.Value, ranges));
        Assert.Equal(2 * ranges.Count, cluster.Fakes[0].Transfers.Count);
    }

    [Fact]
    public async Task A_piece_applied_whose_reply_was_lost_counts_as_pushed_and_the_other_pieces_still_go()
    {
        using var cluster = Cluster();
        await using var worker0 = await JoinedAsync(cluster);
        await using var worker1 = await JoinedAsync(cluster);
        Assert.Equal(6, cluster.Shards[0].ClosingRanges!.Count);
        cluster.Fakes[0].LoseNextReplyOf(worker0.WorkerId);   // its first piece is applied, the retry answers Duplicate

        var pushed = Assert.Single(await worker0.PushAsync(new PushHeader(worker0.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));
        var closing = Assert.Single(await worker1.PushAsync(new PushHeader(worker1.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));

        Assert.True(pushed.IsApplied, pushed.ToString());
        Assert.True(closing is { IsApplied: true, ClosedStep: true, Step: 1 }, closing.ToString());
        Assert.Equal(1, cluster.Status().Step);
        // Worker 0's pieces: the first twice (the retry), every other once.
        var pieces = cluster.Fakes[0].Transfers.Where(t => t.Push).Select(t => t.Piece!.Value).ToList();
        Assert.Equal(6 + 1 + 6, pieces.Count);
    }

    [Fact]
    public async Task A_worker_back_mid_step_pulls_its_ranges_as_they_are_and_its_push_completes_the_step()
    {
        using var cluster = Cluster();
        await using var worker0 = await JoinedAsync(cluster);
        await using var worker1 = await JoinedAsync(cluster);
        var ranges = cluster.Shards[0].ClosingRanges!;
        var shard = cluster.Fakes[0].Shard;
        var ramp = SmallJob.Ramp();
        // Step 0's first range closed (worker 0 pushed it, then died and came back knowing nothing of it); the others wait.
        foreach (int worker in new[] { worker0.WorkerId, worker1.WorkerId })
            Assert.True(shard.Push(new PushHeader(worker, 0, 0, 1, 0, Piece: ranges[0]), ramp.AsSpan(ranges[0].Offset, ranges[0].Length)).IsApplied);
        var parameters = new float[SmallJob.Parameters];

        var pulled = await worker0.PullAsync(0, parameters, CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(cluster.Parameters(), parameters);   // range 0 of step 1, the others of step 0
        var pushed = Assert.Single(await worker0.PushAsync(new PushHeader(worker0.WorkerId, 0, 0, 1, 0), ramp, CancellationToken.None).WaitAsync(Bound));
        var closing = Assert.Single(await worker1.PushAsync(new PushHeader(worker1.WorkerId, 0, 0, 1, 0), ramp, CancellationToken.None).WaitAsync(Bound));

        Assert.Equal(0, pulled.Step);   // its oldest range's step, the one it pushes
        Assert.True(pushed.IsApplied, pushed.ToString());   // its first range answered Duplicate, the rest were applied
        Assert.True(closing is { IsApplied: true, ClosedStep: true, Step: 1 }, closing.ToString());
        Assert.Equal(1, cluster.Status().Step);
    }

    [Fact]
    public async Task A_push_whose_every_range_was_applied_before_answers_applied_without_closing_a_step_or_the_job()
    {
        // One worker: its first push closes step 0 range by range; the same push again is a Duplicate in every range.
        using var cluster = Cluster(workers: 1);
        await using var worker = await JoinedAsync(cluster);
        var first = Assert.Single(await worker.PushAsync(new PushHeader(worker.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));
        Assert.True(first is { IsApplied: true, ClosedStep: true, Step: 1 }, first.ToString());
        var parameters = cluster.Parameters();

        var again = Assert.Single(await worker.PushAsync(new PushHeader(worker.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));

        Assert.True(again is { IsApplied: true, ClosedStep: false, JobFinished: false, Step: 0 }, again.ToString());   // as if applied, at the push's step
        Assert.Equal(parameters, cluster.Parameters());
        Assert.Equal(1, cluster.Status().Step);
    }

    [Fact]
    public async Task A_round_robin_push_whose_last_ranges_closed_before_their_turn_answers_late_and_still_sends_the_open_ranges()
    {
        // One worker, round-robin turns: the last two ranges of step 0 were pushed (and closed) before; the client's push of
        // step 0 finds their turns closed (Late) and the first four ranges still open.
        using var cluster = new InProcessCluster(SmallJob.Softmax(SyncMode.Bsp, 1, steps: 4) with { PieceFloats = 4, Schedule = PushSchedule.RoundRobin, PushConcurrency = 1 },
            shards: 1, learningRate: 0.5f, pieces: true);
        await using var worker = await JoinedAsync(cluster);
        var ranges = cluster.Shards[0].ClosingRanges!;
        var ramp = SmallJob.Ramp();
        foreach (var range in ranges.TakeLast(2))
            Assert.True(cluster.Fakes[0].Shard.Push(new PushHeader(worker.WorkerId, 0, 0, 1, 0, Piece: range), ramp.AsSpan(range.Offset, range.Length)).IsApplied);

        var pushed = Assert.Single(await worker.PushAsync(new PushHeader(worker.WorkerId, 0, 0, 1, 0), ramp, CancellationToken.None).WaitAsync(Bound));

        Assert.Equal(PushOutcomeKind.Late, pushed.Kind);
        Assert.EndsWith("closed on shard 0 before this worker's push turn", pushed.Reason);
        Assert.Equal(ranges.Take(4), cluster.Fakes[0].Transfers.Where(t => t.Push).Select(t => t.Piece!.Value).OrderBy(p => p.Offset));
        Assert.Equal(1, cluster.Status().Step);   // the open ranges closed the step
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(3e38f)]   // a mean beyond 1e19 over one row
    public async Task A_gradient_bad_only_in_its_last_piece_sends_no_piece_and_changes_nothing(float bad)
    {
        // One worker: each range closes as soon as its piece is in, so any piece sent would be applied.
        using var cluster = Cluster(workers: 1);
        await using var worker = await JoinedAsync(cluster);
        var before = cluster.Parameters();
        var gradient = SmallJob.Ramp();
        gradient[^1] = bad;

        var refused = await Assert.ThrowsAsync<ShardException>(() => worker.PushAsync(new PushHeader(worker.WorkerId, 0, 0, 1, 0), gradient, CancellationToken.None));

        Assert.Equal(ShardErrorKind.InvalidRequest, refused.Kind);
        Assert.Contains(float.IsFinite(bad) ? "a mean beyond the limit" : "NaN or Inf", refused.Message);
        Assert.DoesNotContain(cluster.Fakes[0].Transfers, t => t.Push);
        Assert.Equal(before, cluster.Parameters());
        Assert.Equal(0, cluster.Shards[0].Status().Step);
        var good = Assert.Single(await worker.PushAsync(new PushHeader(worker.WorkerId, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None));
        Assert.True(good is { IsApplied: true, ClosedStep: true, Step: 1 }, good.ToString());   // the step is still open for it
    }
}
