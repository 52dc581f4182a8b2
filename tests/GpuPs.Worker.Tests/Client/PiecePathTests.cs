using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Tests.Fakes;
using Serilog;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// Pushes and pulls in pieces (<see cref="ShardedClientOptions.Pieces"/>) against real shards behind the
/// <see cref="GpuPs.Server.Pieces.PieceAssemblingShard"/> both real edges serve through: the pieces' order and credit,
/// their reassembly on both sides, the answer of a push in pieces, and pieces pulled at different steps.
/// </summary>
public class PiecePathTests
{
    private const int Parameters = SmallJob.Parameters;

    // Pieces of 4 values on one shard: [0,4) [4,8) [8,12) [12,16) [16,18) (cut at the layer boundary) [18,21).
    private static readonly PieceRange[] ShardPieces = [new(0, 4), new(4, 4), new(8, 4), new(12, 4), new(16, 2), new(18, 3)];

    private static TrainingJob Job(SyncMode mode = SyncMode.Bsp, int workers = 1) => SmallJob.Softmax(mode, workers, steps: 4);

    /// <summary>4 values a piece, two pieces' bytes in flight.</summary>
    private static readonly PieceOptions Small = new(PieceFloats: 4, CreditBytes: 2 * 4 * sizeof(float));

    private static async Task<ShardedParameterClient> JoinedAsync(InProcessCluster cluster, PieceOptions? pieces = null, int? maxRetries = null)
    {
        var options = new ShardedClientOptions { Pieces = pieces ?? Small };
        var client = cluster.Client(maxRetries is { } retries ? options with { MaxRetries = retries } : options);
        await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        return client;
    }

    private static float[] Ramp() => SmallJob.Ramp();

    [Fact]
    public async Task Workers_that_push_and_pull_in_pieces_descend_exactly_like_full_batch_descent()
    {
        using var cluster = new InProcessCluster(Job(workers: 2), shards: 2, learningRate: 0.5f, pieces: true);

        var reports = await cluster.RunAsync(2, CancellationToken.None, o => o with { Pieces = Small });

        SmallJob.AssertFullBatchDescent(cluster, 0.5f);
        Assert.All(reports, r => Assert.Equal((4L, 0L), (r.Steps, r.PushesDropped)));
        // The first pull and a prefetch per step, each the whole vector in pieces of 4 bytes a value.
        Assert.All(reports, r => Assert.Equal((1 + 4) * Parameters * sizeof(float), r.BytesPulled));
        foreach (var (fake, shard) in cluster.Fakes.Zip(cluster.Shards))
        {
            // Every push and pull went as pieces, and each step's pieces of one worker cover the shard once.
            Assert.All(fake.Transfers, t => Assert.NotNull(t.Piece));
            var pushed = fake.Transfers.Where(t => t.Push).GroupBy(t => t.Step).ToList();
            Assert.Equal(4, pushed.Count);
            Assert.All(pushed, step => Assert.Equal(2 * shard.Info.Length, step.Sum(t => t.Piece!.Value.Length)));
        }
    }

    [Theory]
    [InlineData(TensorEncoding.Float32, 2)]
    [InlineData(TensorEncoding.BFloat16, 4)]   // 2 bytes a value: twice the pieces fit the credit
    public async Task A_push_in_pieces_goes_first_piece_first_with_no_more_in_flight_than_the_credit_and_is_applied_once(TensorEncoding encoding, int inFlight)
    {
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        var shard = cluster.Fakes[0];
        var before = cluster.Parameters();
        shard.HoldPushes();

        var pushing = client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None, encoding);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            while (shard.PushesInFlight < inFlight) await Task.Delay(10, guard.Token);
        await Task.Delay(200);   // room for one more piece to start, were the credit ignored
        Assert.Equal(inFlight, shard.PushesInFlight);
        Assert.Equal(ShardPieces[..inFlight], shard.Transfers.Select(t => t.Piece!.Value).OrderBy(p => p.Offset));   // the first layer's first pieces first
        shard.ReleasePushes();
        var outcome = Assert.Single(await pushing.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.True(outcome is { IsApplied: true, ClosedStep: true, Step: 1 }, outcome.ToString());
        Assert.Equal(ShardPieces, shard.Transfers.Select(t => t.Piece!.Value).OrderBy(p => p.Offset));   // each piece once
        Assert.Equal(inFlight, shard.MostPushesInFlight);
        var after = cluster.Parameters();
        for (int k = 0; k < Parameters; k++) Assert.Equal(before[k] - 0.5f * (k + 1), after[k], 6);   // 1..21 are exact in bfloat16
        Assert.Equal(1, cluster.Shards[0].Status().Step);
        Assert.Equal(4, client.PieceLinks![0].PieceFloats);
    }

    [Fact]
    public async Task A_push_in_pieces_the_shard_refuses_is_answered_by_the_refusal_and_changes_nothing()
    {
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        cluster.Fakes[0].PushDelay = TimeSpan.FromMilliseconds(200);   // a link: the refusal comes back while pieces wait their turn
        var before = cluster.Parameters();

        var outcome = Assert.Single(await client.PushAsync(new PushHeader(0, 2, 0, 1, 0), Ramp(), CancellationToken.None));

        Assert.False(outcome.IsApplied);
        Assert.Equal(PushOutcomeKind.Refused, outcome.Kind);
        Assert.Equal(before, cluster.Parameters());
        Assert.Equal(0, ((GpuPs.Server.Pieces.PieceAssemblingShard)cluster.Fakes[0].Shard).OpenPushes);
        int sent = cluster.Fakes[0].Pushes;
        await Task.Delay(1000);   // two rounds of the credit: time for the queued pieces to go, were they not cancelled
        Assert.Equal(sent, cluster.Fakes[0].Pushes);
        Assert.True(sent < ShardPieces.Length, "the pieces after the refused one were still sent");
    }

    [Fact]
    public async Task Pieces_that_fail_for_good_fail_the_push_and_the_pull_with_the_shard_s_error()
    {
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster, maxRetries: 1);
        cluster.Fakes[0].FailNext(int.MaxValue);   // unreachable from now on
        var before = cluster.Parameters();

        var push = await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        var pull = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(0, new float[Parameters], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal((ShardErrorKind.Unavailable, ShardErrorKind.Unavailable), (push.Kind, pull.Kind));
        Assert.StartsWith("push of piece [", push.Message);
        Assert.StartsWith("pull from shard 0 at in-process shard 0 failed 1 times", pull.Message);
        Assert.Equal(before, cluster.Parameters());
        Assert.Equal(0L, client.BytesPulled);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pieces_that_fail_for_good_cancel_the_pieces_still_queued(bool pull)
    {
        // Two pieces in flight of six, each failing after 200 ms: the first failures end the push or pull, the pieces still
        // waiting for the credit are never sent, and none of a pull's is still writing into the destination when it fails.
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster, maxRetries: 1);
        var shard = cluster.Fakes[0];
        if (pull) shard.PiecePullDelay = TimeSpan.FromMilliseconds(200);
        else shard.PushDelay = TimeSpan.FromMilliseconds(200);
        shard.FailNext(int.MaxValue);

        Task call = pull
            ? client.PullAsync(0, new float[Parameters], CancellationToken.None)
            : client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None);
        await Assert.ThrowsAsync<ShardException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        if (pull) Assert.Equal(0, client.PieceLinks![0].Pull.InFlightBytes);
        await Task.Delay(1000);   // two rounds of the credit: time for the queued pieces to go, were they not cancelled

        Assert.InRange(pull ? shard.Pulls : shard.Pushes, 2, ShardPieces.Length - 1);
    }

    [Fact]
    public async Task A_pull_in_pieces_takes_each_piece_s_bytes_of_the_pull_link_s_credit()
    {
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        long inFlight = -1;
        cluster.Fakes[0].AfterNextPiecePull = () => inFlight = client.PieceLinks![0].Pull.InFlightBytes;

        await client.PullAsync(0, new float[Parameters], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        // The first piece of 4 values is still on the link, and at most one more of 4: the credit of two pieces.
        Assert.InRange(inFlight, 4 * sizeof(float), Small.CreditBytes);
    }

    [Fact]
    public void A_piece_link_with_a_fixed_size_and_credit_keeps_both_on_either_link_after_a_measuring_window()
    {
        var shard = new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Parameters };
        var link = new PieceLink(shard, [0, 18], Small, Log.Logger);

        foreach (var tuner in new[] { link.Push.Tuner!, link.Pull.Tuner! })
        {
            for (int k = 0; k < CreditTuner.WindowPieces; k++)
            {
                tuner.Started();
                tuner.Ended(4 * sizeof(float), 1e-3, succeeded: true);
            }
            Assert.True(tuner.RateBytesPerSecond > 0);   // the window closed
            Assert.Equal((4 * sizeof(float), Small.CreditBytes), (tuner.PieceBytes, tuner.CreditBytes));
        }
    }

    [Fact]
    public void A_piece_link_credits_four_pieces_of_its_fixed_size_takes_a_pull_credit_of_its_own_and_refuses_a_negative_one()
    {
        var shard = new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Parameters };
        long[] layers = [0, 18];

        var fixedSize = new PieceLink(shard, layers, new PieceOptions(PieceFloats: 4), Log.Logger);
        var ownPull = new PieceLink(shard, layers, new PieceOptions(PieceFloats: 4), Log.Logger, pullCreditBytes: 40);

        Assert.Equal((4 * 4 * sizeof(float), 4 * 4 * sizeof(float)), (fixedSize.Push.CreditBytes, fixedSize.Pull.CreditBytes));
        Assert.Equal((4 * 4 * sizeof(float), 40L), (ownPull.Push.CreditBytes, ownPull.Pull.CreditBytes));
        Assert.Equal(ShardPieces, fixedSize.Plan().Select(p => p.Range));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PieceLink(shard, layers, new PieceOptions(PieceFloats: 4), Log.Logger, pullCreditBytes: -1));
    }

    [Fact]
    public async Task A_pull_in_pieces_reassembles_the_shards_and_repulls_pieces_older_than_the_newest()
    {
        // ASP, two workers: right after the first piece of worker 0's pull, worker 1's push moves shard 0 to step 1, so the
        // first piece is of step 0 and the others of step 1: it is pulled again, and the pull is all of step 1.
        using var cluster = new InProcessCluster(Job(SyncMode.Asp, workers: 2), shards: 2, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        await using var other = await JoinedAsync(cluster);
        int length = (int)cluster.Shards[0].Info.Length;
        cluster.Fakes[0].AfterNextPiecePull = () => cluster.Shards[0].Push(new PushHeader(1, 0, 0, 1, 0), Enumerable.Repeat(1f, length).ToArray());
        var parameters = new float[Parameters];

        var pulled = await client.PullAsync(0, parameters, CancellationToken.None);

        Assert.Equal(0, pulled.Step);   // shard 1 is still at step 0
        Assert.Equal(cluster.Parameters(), parameters);
        var pieces = cluster.Fakes[0].Transfers.Where(t => !t.Push).ToList();
        Assert.Equal(new PieceRange(0, 4), pieces[0].Piece);
        Assert.Equal((0L, 1L), (pieces[0].Step, pieces[^1].Step));
        Assert.Equal(length + 4, pieces.Sum(p => p.Piece!.Value.Length));   // the shard once, and the stale first piece again
        Assert.Equal((Parameters + 4) * sizeof(float), client.BytesPulled);
        Assert.All(cluster.Fakes[1].Transfers, t => Assert.Equal(0, t.Step));
    }

    [Fact]
    public async Task Pieces_that_keep_coming_back_at_different_steps_are_pulled_again_three_times_then_the_oldest_step_is_taken()
    {
        // ASP: worker 1 pushes to shard 0 after every piece worker 0 pulls, so each round leaves all but its last piece
        // stale: 6 pieces, then 3 rounds of the 5 stale ones, 21 pulls; the answer is the oldest piece's step.
        using var cluster = new InProcessCluster(Job(SyncMode.Asp, workers: 2) with { Steps = 100 }, shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        await using var other = await JoinedAsync(cluster);
        long clock = 0;
        void Step()
        {
            cluster.Shards[0].Push(new PushHeader(1, clock++, 0, 1, 0), new float[Parameters]);
            cluster.Fakes[0].AfterNextPiecePull = Step;
        }
        cluster.Fakes[0].AfterNextPiecePull = Step;

        var pulled = await client.PullAsync(0, new float[Parameters], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(6 + 3 * 5, cluster.Fakes[0].Transfers.Count(t => !t.Push));
        Assert.Equal(15, pulled.Step);   // the piece kept from round 2 (pulled 16th, before the 16th push)
    }

    [Fact]
    public async Task A_job_that_finishes_between_two_pieces_of_a_pull_answers_finished_and_pulls_no_piece_again()
    {
        // One BSP worker, one step: right after the first piece, the worker's own push closes the last step, so that piece
        // is of step 0 and the other five are of step 1 and say the job finished. A finished job's pieces are not pulled again.
        using var cluster = new InProcessCluster(Job() with { Steps = 1 }, shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster);
        cluster.Fakes[0].AfterNextPiecePull = () => cluster.Shards[0].Push(new PushHeader(0, 0, 0, 1, 0), Ramp());

        var pulled = await client.PullAsync(0, new float[Parameters], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(pulled.Finished);
        Assert.Equal(ShardPieces.Length, cluster.Fakes[0].Transfers.Count(t => !t.Push));
    }

    [Fact]
    public void Piece_sizes_are_the_user_s_or_the_tuned_ones_and_negative_ones_are_refused()
    {
        var info = new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Parameters };
        var fixedSize = new PieceLink(info, [0, 18], new PieceOptions(PieceFloats: 4, CreditBytes: 100), Log.Logger);
        Assert.Equal(4, fixedSize.PieceFloats);
        Assert.Equal(100, fixedSize.Push.CreditBytes);
        Assert.Equal(100, fixedSize.Pull.CreditBytes);
        Assert.Equal(ShardPieces, fixedSize.Plan().Select(p => p.Range));
        Assert.Equal([0, 0, 0, 0, 0, 1], fixedSize.Plan().Select(p => p.Layer));

        var tuned = new PieceLink(info, [0, 18], new PieceOptions(), Log.Logger);
        Assert.Equal(PieceOptions.StartPieceFloats, tuned.PieceFloats);
        Assert.Equal(4L * PieceOptions.StartPieceFloats * sizeof(float), tuned.Push.CreditBytes);
        Assert.Equal(tuned.Push.Tuner!.PieceBytes / sizeof(float), tuned.PieceFloats);
        Assert.NotSame(tuned.Push, tuned.Pull);

        Assert.Contains("piece size must be positive", Assert.Throws<ArgumentException>(() => new PieceOptions(PieceFloats: -1).Validate()).Message);
        Assert.Contains("credit must be positive", Assert.Throws<ArgumentException>(() => new PieceOptions(CreditBytes: -1).Validate()).Message);
        new PieceOptions(0, 0).Validate();
        Assert.Throws<ArgumentException>(() => new PieceLink(info, [0, 18], new PieceOptions(PieceFloats: -4), Log.Logger));
    }
}
