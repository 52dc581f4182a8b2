using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Client;
using GpuPs.Worker.Tests.Fakes;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// <see cref="ShardedParameterClient"/> against real shards in this process: how it splits a push over the shards' key
/// ranges and merges their pulls, which shards each call reaches, what it refuses before calling anything, how shards
/// at different steps are brought together, and which error a failing fan-out throws.
/// </summary>
public class ShardedClientTests
{
    private const int Parameters = SmallJob.Parameters;   // shards of 7 values at 3 shards

    private static TrainingJob Job(SyncMode mode = SyncMode.Bsp, int workers = 1, ulong seed = 5) => SmallJob.Softmax(mode, workers, steps: 5) with { Seed = seed };

    private static float[] Ramp() => SmallJob.Ramp();

    private static Task<Registration> Join(ShardedParameterClient client) => client.RegisterAsync(SmallJob.NewWorker(), CancellationToken.None);

    [Fact]
    public async Task Registration_joins_every_shard_under_one_id_and_learns_their_key_ranges_in_order()
    {
        using var cluster = new InProcessCluster(Job(workers: 2), shards: 3, learningRate: 0.5f);
        await using var first = cluster.Client();
        await using var second = cluster.Client();

        var a = await Join(first);
        var b = await Join(second);

        Assert.Equal((0, 1), (a.WorkerId, b.WorkerId));
        Assert.Equal(1, second.WorkerId);
        Assert.Equal([0L, 7, 14], second.Layout.Select(s => s.Offset));
        Assert.Equal([7L, 7, 7], second.Layout.Select(s => s.Length));
        Assert.Equal(0, b.Step);
        Assert.Equal(cluster.Job.Steps, b.Job.Steps);
        Assert.All(cluster.Fakes, f => Assert.Equal(2, f.Registrations));
        Assert.All(cluster.Shards, s => Assert.Equal(2, s.Status().Workers.Count(w => w.Registered)));
    }

    [Fact]
    public async Task Servers_listed_out_of_shard_order_or_running_other_jobs_are_refused_by_name()
    {
        using var cluster = new InProcessCluster(Job(workers: 3), shards: 2, learningRate: 0.5f);
        await using var swapped = new ShardedParameterClient([cluster.Fakes[1].Connect(), cluster.Fakes[0].Connect()], null, Log.Logger);
        var order = await Assert.ThrowsAsync<InvalidOperationException>(() => Join(swapped));
        Assert.Contains("owns shard 1 of 2; expected shard 0 of 2", order.Message);
        Assert.Equal(-1, swapped.WorkerId);
        Assert.Equal(0, cluster.Fakes[0].Registrations);   // stopped at the first server out of order: no slot taken on the next

        using var other = new InProcessCluster(Job(workers: 3, seed: 6), shards: 2, learningRate: 0.5f);
        await using var mixed = new ShardedParameterClient([cluster.Fakes[0].Connect(), other.Fakes[1].Connect()], null, Log.Logger);
        var job = await Assert.ThrowsAsync<InvalidOperationException>(() => Join(mixed));
        Assert.Contains("runs a different job", job.Message);

        using var three = new InProcessCluster(Job(), shards: 3, learningRate: 0.5f);
        await using var missing = new ShardedParameterClient([three.Fakes[0].Connect(), three.Fakes[1].Connect()], null, Log.Logger);
        var count = await Assert.ThrowsAsync<InvalidOperationException>(() => Join(missing));
        Assert.Contains("owns shard 0 of 3; expected shard 0 of 2", count.Message);
        Assert.Equal(0, three.Fakes[1].Registrations);
    }

    [Fact]
    public async Task Nothing_is_called_before_registration_or_with_a_buffer_of_another_length()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        Assert.Contains("at least one server address", Assert.Throws<ArgumentException>(() => new ShardedParameterClient([], null, Log.Logger)).Message);
        Assert.Empty(client.Layout);
        Assert.Equal(-1, client.WorkerId);

        Assert.Equal("register before pulling or pushing",
            (await Assert.ThrowsAsync<InvalidOperationException>(() => client.PullAsync(0, new float[Parameters], CancellationToken.None))).Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[Parameters], CancellationToken.None));
        Assert.Equal("register before sending heartbeats",
            (await Assert.ThrowsAsync<InvalidOperationException>(() => client.KeepAliveAsync(() => 0, CancellationToken.None))).Message);
        Assert.Equal("register before reporting",
            (await Assert.ThrowsAsync<InvalidOperationException>(() => client.ReportToCoordinatorAsync(new HeartbeatRequest(), CancellationToken.None))).Message);
        Assert.Equal("register before relaying",
            (await Assert.ThrowsAsync<InvalidOperationException>(() => client.RelayToShardsAsync(new HeartbeatRequest(), CancellationToken.None))).Message);

        await Join(client);
        var pull = await Assert.ThrowsAsync<ArgumentException>(() => client.PullAsync(0, new float[Parameters - 1], CancellationToken.None));
        Assert.Contains("holds 20 floats; the shards hold 21 parameters", pull.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[Parameters + 1], CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), new float[Parameters], 1, new float[2], CancellationToken.None));
        foreach (var f in cluster.Fakes) f.Fuses = true;
        await Assert.ThrowsAsync<ArgumentException>(() => client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), new float[2], 1, new float[Parameters], CancellationToken.None));
        Assert.All(cluster.Fakes, f => Assert.Equal((0, 0), (f.Pulls, f.Pushes)));
    }

    [Fact]
    public async Task A_pull_merges_every_shard_s_slice_and_a_push_gives_each_shard_its_own_slice()
    {
        using var cluster = new InProcessCluster(Job(), shards: 3, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        var start = new float[Parameters];

        var pulled = await client.PullAsync(0, start, CancellationToken.None);

        Assert.Equal(new PulledParameters(0, false), pulled);
        Assert.Equal(cluster.Parameters(), start);
        var gradient = Ramp();
        var outcomes = await client.PushAsync(new PushHeader(0, 0, 0, SampleCount: 1, LossSum: 0.5), gradient, CancellationToken.None);

        Assert.Equal(3, outcomes.Count);
        Assert.All(outcomes, o => Assert.True(o.IsApplied && o.ClosedStep && o.Step == 1, o.ToString()));
        // SGD, one sample: every value moved by −0.5 × its own gradient value, whichever shard holds it.
        var after = cluster.Parameters();
        for (int k = 0; k < Parameters; k++) Assert.Equal(start[k] - 0.5f * gradient[k], after[k], 6);
        var next = new float[Parameters];
        Assert.Equal(1, (await client.PullAsync(1, next, CancellationToken.None)).Step);
        Assert.Equal(after, next);
        Assert.Equal(2 * Parameters * sizeof(float), client.BytesPulled);
        Assert.All(cluster.Fakes, f => Assert.Equal((2, 1), (f.Pulls, f.Pushes)));
    }

    [Fact]
    public async Task A_refused_push_is_an_answer_per_shard_not_an_error()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        var before = cluster.Parameters();

        var outcomes = await client.PushAsync(new PushHeader(0, 3, 0, 1, 0), Ramp(), CancellationToken.None);

        Assert.All(outcomes, o => Assert.False(o.IsApplied));
        Assert.Equal(before, cluster.Parameters());
    }

    /// <summary>Pushes <paramref name="gradient"/> as step 0 (<paramref name="fused"/>: with the pull of step 1) and checks it is refused as not finite.</summary>
    private static async Task AssertRefusedNotFiniteAsync(ShardedParameterClient client, float[] gradient, bool fused)
    {
        var e = await Assert.ThrowsAsync<ShardException>(() => fused
            ? client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), gradient, 1, new float[Parameters], CancellationToken.None)
            : client.PushAsync(new PushHeader(0, 0, 0, 1, 0), gradient, CancellationToken.None));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains("NaN or Inf", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_whole_push_over_several_shards_that_is_not_finite_in_one_slice_is_refused_before_any_shard_gets_it(bool fused)
    {
        // Each shard checks only its slice: sent as it is, shard 0 would apply its half and shard 1 refuse the other, and
        // the shards would be at different steps.
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        foreach (var fake in cluster.Fakes) fake.Fuses = fused;
        var before = cluster.Parameters();
        var gradient = Ramp();
        gradient[^1] = float.NaN;   // in shard 1's slice only

        await AssertRefusedNotFiniteAsync(client, gradient, fused);

        Assert.All(cluster.Fakes, f => Assert.DoesNotContain(f.Transfers, t => t.Push));
        Assert.All(cluster.Shards, s => Assert.Equal(0, s.Status().Step));
        Assert.Equal(before, cluster.Parameters());

        gradient[^1] = 1f;   // the same push, finite: both shards apply it and close the step
        Assert.All(await client.PushAsync(new PushHeader(0, 0, 0, 1, 0), gradient, CancellationToken.None), o => Assert.True(o.IsApplied));
        Assert.All(cluster.Shards, s => Assert.Equal(1, s.Status().Step));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_whole_push_to_one_shard_is_checked_by_that_shard_which_refuses_it_whole(bool fused)
    {
        // No pass over the gradient in the client where the one shard's own check refuses the whole push anyway.
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        cluster.Fakes[0].Fuses = fused;
        var before = cluster.Parameters();
        var gradient = Ramp();
        gradient[^1] = float.NaN;

        await AssertRefusedNotFiniteAsync(client, gradient, fused);

        Assert.Contains(cluster.Fakes[0].Transfers, t => t.Push);   // sent, and refused by the shard itself
        Assert.Equal(0, cluster.Shards[0].Status().Step);
        Assert.Equal(before, cluster.Parameters());
    }

    [Fact]
    public async Task A_fused_push_pull_brings_the_next_step_back_only_where_every_shard_s_plane_fuses()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        var parameters = new float[Parameters];
        await client.PullAsync(0, parameters, CancellationToken.None);

        cluster.Fakes[0].Fuses = true;   // shard 1's plane does not fuse: push only
        Assert.False(client.CanFuse);
        var pushed = await client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 1, parameters, CancellationToken.None, sameStep: true);
        Assert.Null(pushed.Pulled);
        Assert.All(pushed.Outcomes, o => Assert.True(o.IsApplied));
        Assert.Equal(1, cluster.Fakes[1].Pushes);
        Assert.Equal(1, cluster.Fakes[0].Pulls);

        cluster.Fakes[1].Fuses = true;
        Assert.True(client.CanFuse);
        var fused = await client.PushPullAsync(new PushHeader(0, 1, 0, 1, 0), Ramp(), 2, parameters, CancellationToken.None, sameStep: true);
        Assert.Equal(new PulledParameters(2, false), fused.Pulled);
        Assert.True(fused.PushAnsweredAt > 0);
        Assert.Equal(cluster.Parameters(), parameters);
        Assert.Equal(2 * Parameters * sizeof(float), client.BytesPulled);   // the first pull and the fused one

        // A push the shards refuse brings nothing back: the caller pulls itself.
        var refused = await client.PushPullAsync(new PushHeader(0, 1, 0, 1, 0), Ramp(), 2, parameters, CancellationToken.None);
        Assert.Null(refused.Pulled);
        Assert.All(refused.Outcomes, o => Assert.False(o.IsApplied));
    }

    [Fact]
    public async Task A_fused_push_pull_s_push_was_answered_when_the_last_shard_answered_it()
    {
        // Shard 1 holds its push until shard 0's was answered: the step's push answer is shard 1's, the later one.
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;
        await using var client = cluster.Client();
        await Join(client);
        cluster.Fakes[1].HoldPushes();

        var fusing = client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 1, new float[Parameters], CancellationToken.None);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            while (cluster.Fakes[0].Pushes < 1 || cluster.Fakes[0].PushesInFlight > 0 || cluster.Fakes[1].PushesInFlight < 1)
                await Task.Delay(10, guard.Token);
        await Task.Delay(50);   // shard 0's answer time is taken right after its push left the channel
        long shard0Answered = System.Diagnostics.Stopwatch.GetTimestamp();
        cluster.Fakes[1].ReleasePushes();
        var fused = await fusing.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(new PulledParameters(1, false), fused.Pulled);
        Assert.True(fused.PushAnsweredAt > shard0Answered, "the step's push answer is the first shard's, not the last");
    }

    [Fact]
    public async Task A_fused_pull_whose_shards_answer_different_steps_is_not_taken_for_one_step()
    {
        // ASP, two workers: worker 1 pushed once to shard 1 alone, so worker 0's fused pull finds shard 0 at 1, shard 1 at 2.
        using var cluster = new InProcessCluster(Job(SyncMode.Asp, workers: 2), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;
        await using var client = cluster.Client();
        await using var other = cluster.Client();
        await Join(client);
        await Join(other);
        cluster.Shards[1].Push(new PushHeader(1, 0, 1, 1, 0), new float[cluster.Shards[1].Info.Length]);
        var parameters = new float[Parameters];

        var sameStep = await client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 0, parameters, CancellationToken.None, sameStep: true);
        Assert.Null(sameStep.Pulled);
        var any = await client.PushPullAsync(new PushHeader(0, 1, 0, 1, 0), Ramp(), 0, parameters, CancellationToken.None);
        Assert.Equal(new PulledParameters(2, false), any.Pulled);   // the oldest slice's step
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // the push fused with a pull is logged too
    public async Task A_same_step_pull_replays_the_logged_push_a_shard_lacks_and_returns_one_step(bool fused)
    {
        // Shard 1 "restarted" and lost worker 0's push of step 0, which shard 0 applied: with a push log the client sends
        // it to shard 1 again, which closes step 0 there, and the pull returns both shards at step 1.
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = fused;
        await using var client = cluster.Client(new ShardedClientOptions { PushLogSteps = 4 });
        var token = new RegisterRequest { RequestedWorkerId = -1, ClientToken = "worker 0" };
        await client.RegisterAsync(token, CancellationToken.None);
        cluster.Fakes[1].ForgetWorkerNext(1);
        await Assert.ThrowsAsync<ShardException>(() => fused
            ? client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 1, new float[Parameters], CancellationToken.None)
            : client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None));
        // A registration now finds the shards at steps 1 and 0: the worker resumes at the older.
        Assert.Equal(0, (await client.RegisterAsync(token, CancellationToken.None)).Step);
        Assert.Equal(1, cluster.Shards[0].Status().Step);
        Assert.Equal(0, cluster.Shards[1].Status().Step);
        var parameters = new float[Parameters];

        var pulled = await client.PullAsync(0, parameters, CancellationToken.None, sameStep: true).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(new PulledParameters(1, false), pulled);
        Assert.All(cluster.Shards, s => Assert.Equal(1, s.Status().Step));
        Assert.Equal(2, cluster.Fakes[1].Pushes);
        Assert.Equal(cluster.Parameters(), parameters);

        // Without sameStep the slices are taken as they are: the oldest step is the answer.
        cluster.Shards[1].Push(new PushHeader(0, 1, 1, 1, 0), new float[cluster.Shards[1].Info.Length]);
        Assert.Equal(1, (await client.PullAsync(0, parameters, CancellationToken.None)).Step);
    }

    [Theory]
    [InlineData(4)]   // the log reaches back: both lost pushes are sent again, in order
    [InlineData(1)]   // it holds step 1 alone: shard 1 could never close step 0 again, and the pull fails naming it
    public async Task A_shard_two_steps_behind_is_sent_both_logged_pushes_or_the_pull_fails_naming_it_when_the_log_does_not_reach_back(int logSteps)
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions { PushLogSteps = logSteps });
        var token = new RegisterRequest { RequestedWorkerId = -1, ClientToken = "worker 0" };
        await client.RegisterAsync(token, CancellationToken.None);
        cluster.Fakes[1].ForgetWorkerNext(2);   // shard 1 "restarted" and lost worker 0's pushes of steps 0 and 1
        for (long step = 0; step < 2; step++)
            await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(new PushHeader(0, step, 0, 1, 0), Ramp(), CancellationToken.None));
        Assert.Equal(0, (await client.RegisterAsync(token, CancellationToken.None)).Step);
        Assert.Equal((2L, 0L), (cluster.Shards[0].Status().Step, cluster.Shards[1].Status().Step));
        var parameters = new float[Parameters];

        var pulling = client.PullAsync(0, parameters, CancellationToken.None, sameStep: true).WaitAsync(TimeSpan.FromSeconds(20));

        if (logSteps == 1)
        {
            // Before, the pull waited for shard 1 to reach step 2, which no push could bring it to: a job hung for good.
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => pulling);
            Assert.Contains("shard 1 at", e.Message);
            Assert.Contains("is at step 0 and the other shards at 2", e.Message);
            Assert.Contains("push log (1 steps) does not reach back to step 0", e.Message);
            Assert.Contains("--push-log-steps", e.Message);
            Assert.Equal(2, cluster.Fakes[1].Pushes);   // the two lost ones only: nothing was replayed
            Assert.Equal((2L, 0L), (cluster.Shards[0].Status().Step, cluster.Shards[1].Status().Step));
            return;
        }
        var pulled = await pulling;

        Assert.Equal(new PulledParameters(2, false), pulled);
        Assert.All(cluster.Shards, s => Assert.Equal(2, s.Status().Step));
        Assert.Equal(4, cluster.Fakes[1].Pushes);
        Assert.Equal(cluster.Parameters(), parameters);
        // Replaying, the client waits for each step to open before its push (here step 1) and for no step already open
        // (step 0): after the two lost pushes, shard 1 saw the first pull, the replay of step 0, the wait for step 1,
        // the replay of step 1 and the pull of step 2.
        Assert.Equal([(false, 0L), (true, 0L), (false, 1L), (true, 1L), (false, 2L)], cluster.Fakes[1].Transfers.Skip(2).Select(t => (t.Push, t.Step)));
    }

    [Fact]
    public async Task When_one_shard_fails_for_good_its_error_is_thrown_and_the_call_waiting_on_the_other_is_cancelled()
    {
        using var cluster = new InProcessCluster(Job(workers: 2), shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions(MaxRetries: 2));
        await Join(client);
        await Join(cluster.Client());   // worker 1 never pushes: step 1 never opens on shard 0
        cluster.Fakes[1].FailNext(int.MaxValue);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var e = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(1, new float[Parameters], guard.Token));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("unreachable", e.Message);
        Assert.False(guard.IsCancellationRequested, "the pull waited on shard 0 instead of failing");
    }

    [Fact]
    public async Task When_a_shard_s_failure_makes_its_sibling_fail_too_the_first_failure_is_thrown()
    {
        // Shard 1 is unreachable; shard 0's push, cancelled when shard 1's failed, ends with an error of its own (as a
        // connection torn down mid-call may) instead of a cancellation. The push throws shard 1's error, the cause.
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        var shard0 = new FailsWhenCancelled(cluster.Fakes[0]);
        await using var client = new ShardedParameterClient([new ShardConnection("shard 0", cluster.Fakes[0], shard0), cluster.Fakes[1].Connect()],
            new ShardedClientOptions(MaxRetries: 1), Log.Logger);
        await Join(client);
        cluster.Fakes[1].FailNext(int.MaxValue);

        var e = await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.StartsWith("push to shard 1 at in-process shard 1", e.Message);
        Assert.True(shard0.FailedOnCancellation);
    }

    /// <summary>Pulls through <paramref name="shard"/>; a push waits until it is cancelled and then fails with an error of its own.</summary>
    private sealed class FailsWhenCancelled(InProcessShard shard) : ITensorChannel
    {
        public bool FailedOnCancellation { get; private set; }

        public Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
            shard.PullAsync(workerId, minStep, destination, cancellationToken, timeout);

        public async Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
            TensorEncoding encoding = TensorEncoding.Float32)
        {
            try { await Task.Delay(Timeout.Infinite, cancellationToken); }
            catch (OperationCanceledException) { }
            FailedOnCancellation = true;
            throw ShardException.Invalid("shard 0's connection was torn down by the cancellation");
        }
    }

    [Fact]
    public async Task A_fused_push_pull_whose_pull_one_shard_could_not_answer_brings_nothing_back()
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;
        cluster.Fakes[1].AnswersFusedPulls = false;
        await using var client = cluster.Client();
        await Join(client);

        var answer = await client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 1, new float[Parameters], CancellationToken.None);

        Assert.Null(answer.Pulled);
        Assert.All(answer.Outcomes, o => Assert.True(o.IsApplied));
        Assert.Equal(Parameters / 2 * sizeof(float) + sizeof(float), client.BytesPulled);   // shard 0's 11 values came
    }

    [Theory]
    [InlineData("register")]
    [InlineData("pull")]
    [InlineData("push")]
    [InlineData("push-pull")]
    [InlineData("report")]
    [InlineData("relay")]
    public async Task A_call_that_stays_unreachable_fails_naming_what_it_was_and_where(string call)
    {
        using var cluster = new InProcessCluster(Job(), shards: 2, learningRate: 0.5f);
        foreach (var f in cluster.Fakes) f.Fuses = true;
        await using var client = cluster.Client(new ShardedClientOptions(MaxRetries: 1));
        int shard = call == "report" ? 0 : 1;
        if (call != "register") await Join(client);
        cluster.Fakes[shard].FailNext(1);

        var e = await Assert.ThrowsAsync<ShardException>(() => call switch
        {
            "register" => Join(client),
            "pull" => client.PullAsync(0, new float[Parameters], CancellationToken.None),
            "push" => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None),
            "push-pull" => client.PushPullAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), 1, new float[Parameters], CancellationToken.None),
            "report" => client.ReportToCoordinatorAsync(new HeartbeatRequest(), CancellationToken.None),
            _ => client.RelayToShardsAsync(new HeartbeatRequest(), CancellationToken.None),
        });

        string what = call switch
        {
            "register" => "register with shard 1", "pull" => "pull from shard 1", "push" => "push to shard 1",
            "push-pull" => "push-pull to shard 1", "report" => "report to the coordinator", _ => "relay the assignment to shard 1",
        };
        Assert.StartsWith($"{what} at in-process shard {shard} failed 1 times", e.Message);
        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
    }

    [Fact]
    public Task A_transient_heartbeat_failure_does_not_give_the_shard_up_and_heartbeats_keep_a_waiting_pull_alive() =>
        // Twice the 3 s timeout's worth of heartbeats, the failed one first. The timeout leaves a second of slack for
        // timers that fire late on a loaded machine (up to 0.7 s seen here).
        AssertAWaitingPullOutlastsHeartbeatsAsync(3000, shard1 => shard1.FailNextHeartbeats(1), heartbeats: 7);

    [Fact]
    public Task A_shard_that_refuses_every_heartbeat_is_alive_and_a_pull_waiting_on_it_goes_on() =>
        // A refusal (a restarted shard that does not know the worker yet) is an answer: shard 1 refuses every heartbeat,
        // and its waiting pull is not given up however long it waits (here seven heartbeats, over two timeouts' worth).
        AssertAWaitingPullOutlastsHeartbeatsAsync(3000, shard1 => shard1.FailNextHeartbeats(int.MaxValue, ShardErrorKind.UnknownWorker), heartbeats: 7);

    /// <summary>
    /// Worker 1 never pushes, so worker 0's pull of step 1 waits; each pull call ends at its 200 ms deadline and is
    /// repeated while the shards answer heartbeats (every third of <paramref name="timeoutMs"/>), whatever
    /// <paramref name="fail"/> does to shard 1's: after <paramref name="heartbeats"/> of them the pull still waits, and
    /// it ends at step 1 once both workers pushed.
    /// </summary>
    private static async Task AssertAWaitingPullOutlastsHeartbeatsAsync(int timeoutMs, Action<InProcessShard> fail, int heartbeats)
    {
        using var cluster = new InProcessCluster(Job(workers: 2) with { HeartbeatTimeoutMs = timeoutMs }, shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions(CallTimeout: TimeSpan.FromMilliseconds(200)));
        await Join(client);
        await using var other = cluster.Client();
        await Join(other);
        using var stop = new CancellationTokenSource();
        fail(cluster.Fakes[1]);
        var beating = client.KeepAliveAsync(() => 1, stop.Token);
        var pulling = client.PullAsync(1, new float[Parameters], CancellationToken.None);

        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (cluster.Fakes[1].Heartbeats < heartbeats && !pulling.IsCompleted) await Task.Delay(20, guard.Token);
        Assert.False(pulling.IsCompleted, pulling.Exception?.InnerException?.Message ?? "the pull ended");

        await other.PushAsync(new PushHeader(1, 0, 0, 1, 0), Ramp(), CancellationToken.None);
        await client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None);
        Assert.Equal(1, (await pulling.WaitAsync(TimeSpan.FromSeconds(20))).Step);
        stop.Cancel();
        await beating;
    }

    [Fact]
    public async Task Without_heartbeats_a_pull_that_outwaits_the_heartbeat_timeout_gives_its_shard_up()
    {
        // Calls whose deadline passed are no sign of life: with nothing else answering, the waiting pull's shard is lost.
        using var cluster = new InProcessCluster(Job(workers: 2) with { HeartbeatTimeoutMs = 500 }, shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions(CallTimeout: TimeSpan.FromMilliseconds(200)));
        await Join(client);
        await Join(cluster.Client());

        var e = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(1, new float[Parameters], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("answered nothing for", e.Message);
        Assert.Contains("(heartbeat timeout 500 ms)", e.Message);
    }

    [Theory]
    [InlineData(false)]   // answered
    [InlineData(true)]    // refused (a refusal is an answer too)
    public async Task Any_answer_to_a_call_is_a_sign_of_life_and_a_pull_waiting_on_that_shard_outlasts_the_heartbeat_timeout(bool refused)
    {
        // No heartbeats: the test sends a step report (to shard 0) and a relayed assignment (to shard 1) each time the
        // waiting pull was repeated on both shards. Twenty repeats of 200 ms outlast the 3 s timeout; the pull still waits.
        // (3 s, as the refused-heartbeats case: at 1.5 s a loaded CI run's 1.59 s without an answer would give a shard up.)
        using var cluster = new InProcessCluster(Job(workers: 2) with { HeartbeatTimeoutMs = 3_000 }, shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions(CallTimeout: TimeSpan.FromMilliseconds(200)));
        await Join(client);
        await Join(cluster.Client());   // worker 1 never pushes: step 1 never opens
        if (refused) foreach (var f in cluster.Fakes) f.FailNextHeartbeats(int.MaxValue, ShardErrorKind.UnknownWorker);
        using var stop = new CancellationTokenSource();
        int Pulls() => cluster.Fakes.Min(f => f.Pulls);

        var pulling = client.PullAsync(1, new float[Parameters], stop.Token);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            for (int pulls = Pulls(); pulls < 22 && !pulling.IsCompleted; pulls = Pulls())
            {
                var report = client.ReportToCoordinatorAsync(new HeartbeatRequest(), CancellationToken.None);
                var relay = client.RelayToShardsAsync(new HeartbeatRequest(), CancellationToken.None);
                if (refused)
                {
                    await Assert.ThrowsAsync<ShardException>(() => report);
                    await Assert.ThrowsAsync<ShardException>(() => relay);
                }
                else await Task.WhenAll(report, relay);
                while (Pulls() == pulls && !pulling.IsCompleted) await Task.Delay(10, guard.Token);
            }

        Assert.False(pulling.IsCompleted, pulling.Exception?.InnerException?.Message ?? "the pull ended");
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pulling);
    }

    [Fact]
    public async Task Disposing_the_client_closes_every_shard_connection_once()
    {
        using var cluster = new InProcessCluster(Job(), shards: 3, learningRate: 0.5f);
        var client = cluster.Client();
        await Join(client);

        await client.DisposeAsync();

        Assert.All(cluster.Fakes, f => Assert.Equal(1, f.Disposals));
    }

    [Fact]
    public async Task A_refusal_is_not_retried()
    {
        using var cluster = new InProcessCluster(Job(), shards: 1, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        cluster.Fakes[0].ForgetWorkerNext(1);

        var e = await Assert.ThrowsAsync<ShardException>(() => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Ramp(), CancellationToken.None));

        Assert.Equal(ShardErrorKind.UnknownWorker, e.Kind);
        Assert.Equal(1, cluster.Fakes[0].Pushes);
    }

    [Fact]
    public async Task Step_reports_go_to_the_coordinator_alone_and_relayed_assignments_to_every_other_shard()
    {
        using var cluster = new InProcessCluster(Job(), shards: 3, learningRate: 0.5f);
        cluster.Fakes[0].Slot = new PushSlot { Version = 2, OffsetSeconds = 0.25 };
        await using var client = cluster.Client();
        await Join(client);

        var reply = await client.ReportToCoordinatorAsync(new HeartbeatRequest { Step = 4, ComputeSeconds = 0.5 }, CancellationToken.None);
        Assert.Equal(2, reply.PushSlot.Version);
        var report = Assert.Single(cluster.Fakes[0].HeartbeatRequests);
        Assert.Equal((0, 4L, 0.5), (report.WorkerId, report.Step, report.ComputeSeconds));

        await client.RelayToShardsAsync(new HeartbeatRequest { Step = 9 }, CancellationToken.None);
        Assert.Single(cluster.Fakes[0].HeartbeatRequests);
        Assert.All(cluster.Fakes.Skip(1), f => Assert.Equal((0, 9L), (Assert.Single(f.HeartbeatRequests).WorkerId, f.HeartbeatRequests.Single().Step)));
    }

    [Fact]
    public async Task Heartbeats_go_to_every_shard_a_third_of_the_timeout_apart_with_the_current_step_until_cancelled()
    {
        // 3 s: heartbeats are the only answered calls here, and a loaded process that answers none for the timeout gives
        // the shard up and stops its heartbeats (at 300 ms a 200 ms stall would); CI has seen 1.59 s.
        using var cluster = new InProcessCluster(Job() with { HeartbeatTimeoutMs = 3_000 }, shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client();
        await Join(client);
        using var stop = new CancellationTokenSource();
        long step = 6;

        var beating = client.KeepAliveAsync(() => step, stop.Token);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (cluster.Fakes.Any(f => f.Heartbeats < 3)) await Task.Delay(20, guard.Token);
        stop.Cancel();
        await beating.WaitAsync(TimeSpan.FromSeconds(20));   // ends quietly on cancellation

        Assert.All(cluster.Fakes, f => Assert.All(f.HeartbeatRequests, h => Assert.Equal((0, 6L), (h.WorkerId, h.Step))));
        int sent = cluster.Fakes[0].Heartbeats;
        await Task.Delay(1_000);   // a heartbeat period
        Assert.Equal(sent, cluster.Fakes[0].Heartbeats);
    }

    [Fact]
    public async Task A_failed_heartbeat_is_logged_with_the_worker_s_id_and_the_shard_s_address()
    {
        using var cluster = new InProcessCluster(Job() with { HeartbeatTimeoutMs = 300 }, shards: 2, learningRate: 0.5f);
        var log = new CapturedLog();
        await using var client = new ShardedParameterClient(cluster.Fakes.Select(f => f.Connect()).ToArray(), null, log.Logger);
        await Join(client);
        cluster.Fakes[1].FailNextHeartbeats(1);
        using var stop = new CancellationTokenSource();

        var beating = client.KeepAliveAsync(() => 0, stop.Token);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            while (!log.Events.Any(e => e.MessageTemplate.Text.StartsWith("Heartbeat to"))) await Task.Delay(20, guard.Token);
        stop.Cancel();
        await beating;

        var failed = log.Events.First(e => e.MessageTemplate.Text.StartsWith("Heartbeat to"));
        Assert.Equal("in-process shard 1", CapturedLog.Property(failed, "Server"));
        Assert.Equal(0, CapturedLog.Property(failed, "WorkerId"));
    }

    [Fact]
    public async Task A_shard_that_refuses_heartbeats_is_alive_and_a_frozen_one_is_given_up_failing_its_calls()
    {
        // 3 s, not less: shard 0 stays alive only by its heartbeats, and a loaded process that answers none of them for the
        // timeout gives shard 0 up instead of shard 1 (CI has seen heartbeats unanswered for 1.59 s).
        using var cluster = new InProcessCluster(Job(workers: 2) with { HeartbeatTimeoutMs = 3_000 }, shards: 2, learningRate: 0.5f);
        await using var client = cluster.Client(new ShardedClientOptions(CallTimeout: TimeSpan.FromSeconds(30)));
        await Join(client);
        await Join(cluster.Client());
        using var stop = new CancellationTokenSource();
        var beating = client.KeepAliveAsync(() => 0, stop.Token);
        cluster.Fakes[1].Freeze();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // Step 1 never opens (worker 1 never pushes): the pull waits on shard 0 until shard 1 is given up.
        var e = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(1, new float[Parameters], guard.Token));

        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Contains("shard 1", e.Message);
        Assert.Contains("heartbeat timeout 3000 ms", e.Message);
        Assert.False(guard.IsCancellationRequested);
        stop.Cancel();
        await beating;
    }
}
