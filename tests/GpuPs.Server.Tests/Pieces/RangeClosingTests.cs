using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// A BSP shard that closes per key range (<see cref="TrainingJob.PieceFloats"/>): a range's update is applied, and its
/// pull answered, as soon as every expected worker pushed that range, while the other ranges still wait; the model is the
/// one whole pushes give, whatever order the pieces come in; exactly once, eviction and checkpoints hold per range.
/// </summary>
public class RangeClosingTests
{
    private static TrainingJob Ranged(int workers, long steps = 20, int heartbeatTimeoutMs = 60_000) =>
        Job(SyncMode.Bsp, workers, steps, heartbeatTimeoutMs: heartbeatTimeoutMs) with { PieceFloats = 4 };

    private static PushHeader Piece(int worker, long step, PieceRange range) => new(worker, step, 0, 2, 1.0, Piece: range);

    private static PushOutcome PushRange(ParameterShard shard, int worker, long step, PieceRange range, float[] gradient) =>
        shard.Push(Piece(worker, step, range), gradient.AsSpan(range.Offset, range.Length));

    [Fact]
    public async Task A_range_is_pullable_as_soon_as_every_worker_pushed_it_while_the_last_range_still_waits()
    {
        using var shard = Create(Ranged(workers: 2), Filled(1f));
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;
        Assert.Equal([new PieceRange(0, 4), new PieceRange(4, 3), new PieceRange(7, 1)], ranges);   // cut at the bias (layer 1)
        var first = shard.WaitForPieceAsync(0, 1, ranges[0], CancellationToken.None);
        var whole = shard.WaitForStepAsync(1, 1, CancellationToken.None);
        Assert.False(first.IsCompleted);

        foreach (int w in new[] { 0, 1 }) Assert.True(PushRange(shard, w, 0, ranges[0], w == 0 ? PieceFixture.Gradient0 : PieceFixture.Gradient1).IsApplied);
        await first.WaitAsync(TimeSpan.FromSeconds(30));

        var piece = new float[4];
        var pulled = shard.CopyParameters(0, piece);
        Assert.Equal(PieceFixture.WholePushes()[..4], piece);     // range 0 of step 1, applied
        Assert.Equal(1, pulled.Step);
        Assert.Equal(0, shard.CopyParameters(4, new float[3]).Step);   // range 1 still at step 0, unchanged
        Assert.Equal(Filled(1f)[4..], Parameters(shard)[4..]);
        Assert.Equal(0, shard.Status().Step);                     // the step closes with its last range
        Assert.False(whole.IsCompleted);
        Assert.False(shard.WaitForPieceAsync(1, 1, new PieceRange(2, 4), CancellationToken.None).IsCompleted);   // overlaps range 1

        foreach (int w in new[] { 1, 0 })
            foreach (var range in ranges.Skip(1)) PushRange(shard, w, 0, range, w == 0 ? PieceFixture.Gradient0 : PieceFixture.Gradient1);
        await whole.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(PieceFixture.WholePushes(), Parameters(shard));
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void Pieces_in_any_order_give_the_model_of_whole_pushes_bit_for_bit(OptimizerKind kind)
    {
        const int workers = 3, steps = 12;
        var optimizer = new OptimizerSettings(kind, kind == OptimizerKind.Adam ? 0.05f : 0.5f);
        using var whole = Create(Job(SyncMode.Bsp, workers, steps), Filled(0.5f), optimizer: optimizer);
        using var ranged = Create(Ranged(workers, steps), Filled(0.5f), optimizer: optimizer);
        RegisterAll(whole, workers);
        RegisterAll(ranged, workers);
        var random = new Random(5);
        var ranges = ranged.ClosingRanges!;
        for (int step = 0; step < steps; step++)
        {
            var gradients = Enumerable.Range(0, workers).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
            for (int w = 0; w < workers; w++) whole.Push(new PushHeader(w, step, 0, 2, 1.0 + w), gradients[w]);
            // Every range's pieces in worker order (the order whole pushes were summed in), the ranges interleaved at random.
            var next = new int[ranges.Count];
            var order = Enumerable.Range(0, ranges.Count).SelectMany(r => Enumerable.Repeat(r, workers)).OrderBy(_ => random.Next()).ToList();
            foreach (int r in order)
            {
                int w = next[r]++;
                Assert.True(ranged.Push(new PushHeader(w, step, 0, 2, 1.0 + w, Piece: ranges[r]), gradients[w].AsSpan(ranges[r].Offset, ranges[r].Length)).IsApplied);
            }
            Assert.Equal(step + 1, ranged.Status().Step);
        }
        Assert.Equal(Bits(Parameters(whole)), Bits(Parameters(ranged)));
        Assert.Equal(whole.Status().MeanLoss, ranged.Status().MeanLoss);
        Assert.Equal(whole.Checkpoint().Optimizer.Slots.Select(Bits), ranged.Checkpoint().Optimizer.Slots.Select(Bits));
    }

    [Fact]
    public void Each_piece_is_taken_exactly_once_and_a_piece_off_the_ranges_is_refused_before_anything_is_added()
    {
        using var shard = Create(Ranged(workers: 2), Filled(1f));
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;
        Assert.True(PushRange(shard, 0, 0, ranges[0], PieceFixture.Gradient0).IsApplied);
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed range [0, 4) of step 0", PushRange(shard, 0, 0, ranges[0], PieceFixture.Gradient0));
        AssertError(ShardErrorKind.InvalidRequest, "does not start and end at the shard's closing ranges",
            () => shard.Push(Piece(1, 0, new PieceRange(2, 4)), new float[4]));
        // A whole push covers every range: refused whole, since it repeats range 0.
        AssertOutcome(PushOutcomeKind.Duplicate, "range [0, 4)", shard.Push(new PushHeader(0, 0, 0, 2, 1.0), PieceFixture.Gradient0));
        AssertOutcome(PushOutcomeKind.Refused, "still at step 0", PushRange(shard, 1, 1, ranges[2], PieceFixture.Gradient1));

        // Worker 1 pushes whole (no pieces): it completes range 0 and takes its part of the others.
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 2, 1.0), PieceFixture.Gradient1).IsApplied);
        Assert.Equal(1, shard.CopyParameters(0, new float[4]).Step);
        foreach (var range in ranges.Skip(1)) PushRange(shard, 0, 0, range, PieceFixture.Gradient0);
        Assert.Equal(PieceFixture.WholePushes(), Parameters(shard));
        AssertOutcome(PushOutcomeKind.Duplicate, "which is closed", PushRange(shard, 1, 0, ranges[1], PieceFixture.Gradient1));
    }

    [Fact]
    public async Task A_worker_evicted_mid_step_closes_the_ranges_it_blocked_and_its_late_piece_is_not_applied()
    {
        var clock = new ManualTimeProvider();
        const int timeoutMs = 400;
        using var shard = Create(Ranged(workers: 2, heartbeatTimeoutMs: timeoutMs), Filled(1f), time: clock);
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;
        foreach (var range in ranges) PushRange(shard, 0, 0, range, PieceFixture.Gradient0);
        PushRange(shard, 1, 0, ranges[0], PieceFixture.Gradient1);   // then worker 1 dies
        Assert.Equal(1, shard.CopyParameters(0, new float[4]).Step);
        var last = shard.WaitForPieceAsync(0, 1, ranges[2], CancellationToken.None);

        for (int i = 0; i < 5; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(timeoutMs / 4));
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        }
        await last.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, shard.Status().Step);
        // Ranges 1 and 2 of step 0 closed with worker 0's piece alone (mean over its 2 rows); range 0 with both.
        var expected = PieceFixture.WholePushes()[..4].Concat(Filled(1f)[4..].Select((p, i) => p - PieceFixture.Gradient0[4 + i] / 2)).ToArray();
        Assert.Equal(expected, Parameters(shard));
        // Its piece of a closed range comes late: the worker returns at the shard's step (as with whole pushes) and the
        // piece is not applied.
        Assert.False(PushRange(shard, 1, 0, ranges[1], PieceFixture.Gradient1).IsApplied);
        Assert.Equal(expected, Parameters(shard));
    }

    [Fact]
    public void A_checkpoint_asked_mid_step_is_the_last_step_boundary_at_once_and_resumes_to_the_same_model()
    {
        // Adam: the boundary must keep the applied range's moments and step count as they were, not only its parameters.
        var adam = new OptimizerSettings(OptimizerKind.Adam, 0.05f);
        using var shard = Create(Ranged(workers: 2), Filled(1f), optimizer: adam);
        RegisterAll(shard, 2);
        var ranges = shard.ClosingRanges!;
        PushStep(shard, 0, ranges);
        var boundary = shard.Checkpoint();
        // Range 0 of step 1 applied; the others wait for pushes that never come if the cluster stops now (SIGTERM).
        foreach (int w in new[] { 0, 1 }) PushRange(shard, w, 1, ranges[0], Gradient(w));
        Assert.NotEqual(Bits(boundary.Parameters), Bits(Parameters(shard)));

        var taken = shard.Checkpoint();

        Assert.Equal(1, taken.Step);
        Assert.Equal(Bits(boundary.Parameters), Bits(taken.Parameters));
        Assert.Equal(boundary.Optimizer.Slots.Select(Bits), taken.Optimizer.Slots.Select(Bits));
        Assert.Equal((1L, (long[]?)null), (taken.Optimizer.Steps, taken.Optimizer.RangeSteps));
        Assert.Equal([1L, 1L], taken.WorkerClocks);   // what they pushed of step 1 is not in it
        // Resumed, step 1's pushes give the model the running shard ends step 1 with, bit for bit.
        foreach (int w in new[] { 0, 1 })
            foreach (var range in ranges.Skip(1)) PushRange(shard, w, 1, range, Gradient(w));
        using var resumed = Create(Ranged(workers: 2), optimizer: adam, resume: taken);
        RegisterAll(resumed, 2);
        PushStep(resumed, 1, ranges);
        Assert.Equal((2L, 2L), (shard.Status().Step, resumed.Status().Step));
        Assert.Equal(Bits(Parameters(shard)), Bits(Parameters(resumed)));
    }

    private static float[] Gradient(int worker) => worker == 0 ? PieceFixture.Gradient0 : PieceFixture.Gradient1;

    private static void PushStep(ParameterShard shard, long step, IReadOnlyList<PieceRange> ranges)
    {
        foreach (int w in new[] { 0, 1 })
            foreach (var range in ranges) Assert.True(PushRange(shard, w, step, range, Gradient(w)).IsApplied);
    }

    [Fact]
    public void A_node_aggregators_whole_push_counts_as_each_contributors_piece_of_every_range()
    {
        using var shard = Create(Ranged(workers: 3), Filled(1f));
        RegisterAll(shard, 3);
        var ranges = shard.ClosingRanges!;
        // Workers 0 and 1 pushed through their node's aggregator (one sum for both); worker 2 pushes pieces directly.
        var node = PieceFixture.Gradient0.Zip(PieceFixture.Gradient1, (a, b) => a + b).ToArray();
        Assert.True(shard.Push(new PushHeader(0, 0, 0, 4, 2.0, Contributors: new ContributorList([0, 1])), node).IsApplied);
        AssertOutcome(PushOutcomeKind.Duplicate, "already pushed range", PushRange(shard, 1, 0, ranges[1], PieceFixture.Gradient1));
        foreach (var range in ranges) PushRange(shard, 2, 0, range, PieceFixture.Gradient0);

        Assert.Equal(1, shard.Status().Step);
        using var whole = Create(Job(SyncMode.Bsp, workers: 3, steps: 20), Filled(1f));
        RegisterAll(whole, 3);
        whole.Push(new PushHeader(0, 0, 0, 4, 2.0, Contributors: new ContributorList([0, 1])), node);
        whole.Push(new PushHeader(2, 0, 0, 2, 1.0), PieceFixture.Gradient0);
        Assert.Equal(Parameters(whole), Parameters(shard));
    }

    [Theory]
    [InlineData(SyncMode.Coded)]
    [InlineData(SyncMode.Backup)]
    [InlineData(SyncMode.Asp)]
    public void Modes_whose_step_is_decided_once_for_the_whole_shard_close_whole_steps(SyncMode mode)
    {
        var job = Job(mode, workers: 3, steps: 5) with { PieceFloats = 4, Stragglers = mode == SyncMode.Asp ? 0 : 1 };
        using var shard = Create(job);
        Assert.Null(shard.ClosingRanges);
        AssertError(ShardErrorKind.InvalidRequest, "closes whole steps", () => shard.Push(Piece(0, 0, new PieceRange(0, 4)), new float[4]));
    }

    private static uint[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToUInt32Bits)];
}
