using System.Diagnostics;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Tests.Fakes;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// The client's side of round-robin push turns (<c>ShardedParameterClient.Turns</c>) against real shards' own
/// <see cref="Server.Coordination.PushTurns"/>: which pushes ask for a turn, what each request says, a turn that comes
/// too late or outlasts its call's deadline, an ASP push's turn by its worker's clock, and the wait each push reports
/// (<see cref="TurnWait"/>).
/// </summary>
public class PushTurnClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static TrainingJob RoundRobin(SyncMode mode = SyncMode.Bsp, int workers = 1) =>
        SmallJob.Softmax(mode, workers, steps: 4) with { Schedule = PushSchedule.RoundRobin, PushConcurrency = 1 };

    private static async Task<ShardedParameterClient> JoinedAsync(InProcessCluster cluster, ShardedClientOptions? options = null)
    {
        var client = cluster.Client(options);
        await client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);
        return client;
    }

    private static Task<IReadOnlyList<PushOutcome>> PushAsync(ShardedParameterClient client, long step, TurnWait? waited = null) =>
        client.PushAsync(new PushHeader(client.WorkerId, step, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None, turnWait: waited).WaitAsync(Bound);

    [Fact]
    public async Task A_round_robin_push_asks_every_shard_for_its_turn_naming_the_worker_step_and_its_place_in_the_order()
    {
        using var cluster = new InProcessCluster(RoundRobin(workers: 2), shards: 2, learningRate: 0.5f);
        await using var first = await JoinedAsync(cluster);
        await using var second = await JoinedAsync(cluster);
        Assert.Equal(-1, first.PushOrder);   // until the coordinator gives one
        (first.PushOrder, second.PushOrder) = (1, 0);

        var outcomes = await Task.WhenAll(PushAsync(first, 0), PushAsync(second, 0));

        Assert.All(outcomes.SelectMany(o => o), o => Assert.True(o.IsApplied, o.ToString()));
        Assert.All(cluster.Shards, s => Assert.Equal(1, s.Status().Step));
        foreach (var fake in cluster.Fakes)
        {
            var requests = fake.TurnRequests.OrderBy(r => r.WorkerId).ToList();
            Assert.Equal(2, requests.Count);
            Assert.Equal([(0, 1), (1, 0)], requests.Select(r => (r.WorkerId, r.Order)));
            Assert.All(requests, r => Assert.Equal((0L, 0L, 0, -1), (r.Step, r.PieceOffset, r.PieceLength, r.Partition)));
            Assert.Equal(2, fake.Pushes);
        }
    }

    [Fact]
    public async Task A_push_whose_step_closed_before_its_turn_is_answered_late_by_every_shard_and_not_sent()
    {
        using var cluster = new InProcessCluster(RoundRobin(), shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);
        Assert.All(await PushAsync(client, 0), o => Assert.True(o.IsApplied, o.ToString()));

        var again = await PushAsync(client, 0);   // step 0 closed with the first

        Assert.Equal(2, again.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal((PushOutcomeKind.Late, 1L), (again[i].Kind, again[i].Step));
            Assert.Equal($"step 0 closed on shard {i} before this worker's push turn", again[i].Reason);
            Assert.Equal(1, cluster.Fakes[i].Pushes);   // only the first push was sent
            Assert.Equal(2, cluster.Fakes[i].TurnRequests.Count);
        }
    }

    [Fact]
    public async Task A_turn_that_outlasts_the_call_deadline_is_asked_for_again_and_the_push_reports_its_longest_shard_wait()
    {
        using var cluster = new InProcessCluster(RoundRobin(), shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);
        cluster.Fakes[0].TurnDelay = TimeSpan.FromMilliseconds(200);   // shard 0's turn comes after 200 ms
        cluster.Fakes[1].TimeOutNextTurns(2);                          // shard 1's deadline passes twice, at once
        var waited = new TurnWait();
        Assert.Equal(0, waited.Seconds);

        var watch = Stopwatch.StartNew();
        var outcomes = await PushAsync(client, 0, waited);
        watch.Stop();

        Assert.All(outcomes, o => Assert.True(o.IsApplied, o.ToString()));
        Assert.Equal((1, 3), (cluster.Fakes[0].TurnRequests.Count, cluster.Fakes[1].TurnRequests.Count));
        Assert.All(cluster.Fakes, f => Assert.Equal(1, f.Pushes));
        // The longest shard's wait (shard 0's scripted 200 ms; shard 1's are immediate), within the push's own time. The lower
        // bound is half the script: Task.Delay can end a few milliseconds early by the Stopwatch (197 ms measured here).
        Assert.InRange(waited.Seconds, 0.1, watch.Elapsed.TotalSeconds);
    }

    [Fact]
    public async Task Each_piece_of_a_round_robin_push_asks_for_its_own_turn_with_its_range()
    {
        using var cluster = new InProcessCluster(RoundRobin(), shards: 1, learningRate: 0.5f, pieces: true);
        await using var client = await JoinedAsync(cluster, new ShardedClientOptions { Pieces = new PieceOptions(PieceFloats: 4, CreditBytes: 4 * sizeof(float)) });

        Assert.True(Assert.Single(await PushAsync(client, 0)).IsApplied);
        var late = Assert.Single(await PushAsync(client, 0));

        // Pieces of 4 values, cut at the layer boundary: [0,4) [4,8) [8,12) [12,16) [16,18) [18,21), first layer first.
        var first = cluster.Fakes[0].TurnRequests.Take(6).Select(r => (r.PieceOffset, r.PieceLength)).ToList();
        Assert.Equal([(0L, 4), (4L, 4), (8L, 4), (12L, 4), (16L, 2), (18L, 3)], first);
        Assert.Equal(6, cluster.Fakes[0].Transfers.Count(t => t.Push));
        Assert.Equal((PushOutcomeKind.Late, 1L), (late.Kind, late.Step));
        Assert.StartsWith("step 0, piece [", late.Reason);
        Assert.EndsWith("closed on shard 0 before this worker's push turn", late.Reason);
    }

    [Fact]
    public async Task A_turn_the_shard_refuses_fails_the_push_with_the_refusal_and_is_not_asked_for_again()
    {
        using var cluster = new InProcessCluster(RoundRobin(), shards: 1, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);

        // Worker 5 is no worker of this one-worker job: the shard refuses its turn, as it would a push.
        var e = await Assert.ThrowsAsync<ShardException>(() =>
            client.PushAsync(new PushHeader(5, 0, 0, 1, 0), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound));

        Assert.NotEqual(ShardErrorKind.Timeout, e.Kind);
        Assert.Single(cluster.Fakes[0].TurnRequests);
        Assert.Equal(0, cluster.Fakes[0].Pushes);
    }

    [Theory]
    [InlineData(SyncMode.Bsp)]
    [InlineData(SyncMode.Asp)]
    public async Task Pushes_of_a_simultaneous_job_ask_for_no_turn(SyncMode mode)
    {
        using var cluster = new InProcessCluster(RoundRobin(mode) with { Schedule = PushSchedule.Simultaneous }, shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);

        Assert.All(await PushAsync(client, 0), o => Assert.True(o.IsApplied, o.ToString()));

        Assert.All(cluster.Fakes, f => Assert.Empty(f.TurnRequests));
        Assert.All(cluster.Fakes, f => Assert.Equal(1, f.Pushes));
    }

    [Fact]
    public async Task An_asp_push_asks_for_the_turn_of_its_worker_s_clock_and_one_behind_or_ahead_of_it_is_answered_without_being_sent()
    {
        using var cluster = new InProcessCluster(RoundRobin(SyncMode.Asp), shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);
        Assert.All(await PushAsync(client, 0), o => Assert.True(o.IsApplied, o.ToString()));   // its clock is 1 now

        var again = await PushAsync(client, 0);
        var ahead = await PushAsync(client, 3);

        for (int i = 0; i < 2; i++)
        {
            Assert.Equal((PushOutcomeKind.Duplicate, 1L), (again[i].Kind, again[i].Step));
            Assert.Equal($"shard {i} has worker 0's push of step 0 already (its clock there is 1)", again[i].Reason);
            Assert.Equal((PushOutcomeKind.Refused, 1L), (ahead[i].Kind, ahead[i].Step));
            Assert.Equal($"push of step 3 refused before its turn: worker 0's clock on shard {i} is 1", ahead[i].Reason);
            Assert.Equal(3, cluster.Fakes[i].TurnRequests.Count);
            Assert.Equal(1, cluster.Fakes[i].Pushes);   // only the first was sent
        }
    }

    [Fact]
    public async Task A_partition_s_push_asks_for_the_turn_of_its_partition()
    {
        using var cluster = new InProcessCluster(RoundRobin(), shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);

        await client.PushAsync(new PushHeader(client.WorkerId, 0, 0, 1, 0, Partition: 3), SmallJob.Ramp(), CancellationToken.None).WaitAsync(Bound);

        Assert.All(cluster.Fakes, f => Assert.Equal((0L, 3), (Assert.Single(f.TurnRequests).Step, f.TurnRequests.Single().Partition)));
    }

    [Fact]
    public async Task An_asp_push_after_the_job_finished_is_answered_finished_by_every_shard_and_not_sent()
    {
        using var cluster = new InProcessCluster(RoundRobin(SyncMode.Asp), shards: 2, learningRate: 0.5f);
        await using var client = await JoinedAsync(cluster);
        for (long step = 0; step < cluster.Job.Steps; step++)
            Assert.All(await PushAsync(client, step), o => Assert.True(o.IsApplied, o.ToString()));

        var after = await PushAsync(client, cluster.Job.Steps);

        for (int i = 0; i < 2; i++)
        {
            Assert.True(after[i].JobFinished, after[i].ToString());
            Assert.Equal(PushOutcomeKind.Finished, after[i].Kind);
            Assert.Equal($"push of step 4 not sent: the job has finished on shard {i}", after[i].Reason);
            Assert.Equal(4, cluster.Fakes[i].Pushes);
        }
    }

    [Fact]
    public void A_push_s_turn_wait_is_its_longest_shard_s_and_the_waits_of_pushes_add_up()
    {
        var waited = new TurnWait();
        waited.Add([Stopwatch.Frequency / 10, Stopwatch.Frequency / 2, Stopwatch.Frequency / 4]);
        Assert.Equal(0.5, waited.Seconds, 9);
        waited.Add([Stopwatch.Frequency / 4]);
        waited.Add([]);
        Assert.Equal(0.75, waited.Seconds, 9);
    }
}
