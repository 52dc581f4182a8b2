using GpuPs.Core.Aggregation;
using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;
using static GpuPs.Server.Tests.Aggregation.AggregatorFixture;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="RangeQuorumAggregator"/> without a shard, over a model cut into ranges [0, 3) [3, 4) [4, 8): what each push
/// is answered (applied, closing the step or not; Duplicate for a range pushed already, before or after it closed; Late,
/// counted once, for a range that closed without it; Refused for a step the range has not opened; Finished after the last
/// step), a quorum below n closing a range at that many pushes, eviction closing only the ranges it unblocks, and the
/// first chunk's admission answering as the whole push would.
/// </summary>
public class RangeQuorumAggregatorTests
{
    private static readonly PieceRange[] Cut = [new(0, 3), new(3, 1), new(4, 4)];

    private static (RangeQuorumAggregator Aggregator, ShardModel Model, WorkerSlot[] Slots) Create(int workers = 2, long steps = 10, int? quorum = null)
    {
        var model = new ShardModel(new float[8], Cut,
            length => Accelerators.Create(AcceleratorChoice.Simd).CreateOptimizer(new OptimizerSettings(OptimizerKind.Sgd, 1f), length), Log.Logger);
        var slots = Slots(workers);
        return (new RangeQuorumAggregator(model, slots, steps, quorum ?? workers), model, slots);
    }

    private static PushHeader Header(int worker, long step, int range) => new(worker, step, 0, 1, 1.0, Piece: Cut[range]);

    private static PushOutcome Push(RangeQuorumAggregator aggregator, WorkerSlot worker, long step, int range, float value = 1f) =>
        aggregator.Accept(worker, Header(worker.Id, step, range), Enumerable.Repeat(value, Cut[range].Length).ToArray());

    private static PushOutcome PushWhole(RangeQuorumAggregator aggregator, WorkerSlot worker, long step, float value = 1f) =>
        aggregator.Accept(worker, new PushHeader(worker.Id, step, 0, 1, 1.0), Enumerable.Repeat(value, 8).ToArray());

    [Fact]
    public void Only_the_push_that_applies_a_step_s_last_range_closes_it_and_the_last_step_finishes_the_job()
    {
        var (aggregator, model, slots) = Create(steps: 1);
        Assert.Equal(0, aggregator.MaxStalenessSeen);
        foreach (int r in new[] { 2, 0 })
            foreach (var w in slots)
            {
                var outcome = Push(aggregator, w, 0, r);
                Assert.Equal((true, false, false, 0L), (outcome.IsApplied, outcome.ClosedStep, outcome.JobFinished, outcome.Step));
            }
        Assert.Equal((0L, 1L, 0L, 1L), (model.Step, model.RangeStep(0), model.RangeStep(1), model.RangeStep(2)));
        Assert.False(aggregator.CanProceed(slots[0], 1));
        Assert.True(Push(aggregator, slots[0], 0, 1).IsApplied);
        var closing = Push(aggregator, slots[1], 0, 1);
        Assert.Equal((true, true, true, 1L), (closing.IsApplied, closing.ClosedStep, closing.JobFinished, closing.Step));
        Assert.True(aggregator.IsFinished);
        Assert.True(aggregator.CanProceed(slots[0], 5));   // a finished job lets every pull through

        var after = Push(aggregator, slots[0], 1, 0);
        Assert.Equal((PushOutcomeKind.Finished, true), (after.Kind, after.JobFinished));
        Assert.Contains("the job finished at step 1", after.Reason);
        Assert.False(aggregator.OnMembershipChanged());
        Assert.Equal(1, model.Step);
    }

    [Fact]
    public void A_range_pushed_already_is_a_duplicate_before_and_after_it_closed_and_one_closed_without_the_worker_is_late_once()
    {
        var (aggregator, model, slots) = Create(workers: 3);
        Assert.True(Push(aggregator, slots[0], 0, 0).IsApplied);
        var open = Push(aggregator, slots[0], 0, 0);
        Assert.Equal(PushOutcomeKind.Duplicate, open.Kind);
        Assert.Contains("worker 0 already pushed range [0, 3) of step 0", open.Reason);
        Assert.True(Push(aggregator, slots[1], 0, 0).IsApplied);

        slots[2].Evicted = true;   // worker 2 went silent: range 0 no longer waits for it
        Assert.False(aggregator.OnMembershipChanged());   // ranges 1 and 2 have no push yet: nothing closes them, no step closed
        Assert.Equal((0L, 1L, 0L), (model.Step, model.RangeStep(0), model.RangeStep(1)));

        var closed = Push(aggregator, slots[0], 0, 0);
        Assert.Equal(PushOutcomeKind.Duplicate, closed.Kind);
        Assert.Contains("which is closed", closed.Reason);
        Assert.Equal(0, aggregator.LatePushesDropped);

        slots[2].Evicted = false;   // back, with its piece of range 0 of step 0
        var late = Push(aggregator, slots[2], 0, 0);
        Assert.Equal(PushOutcomeKind.Late, late.Kind);
        Assert.Contains("range [0, 3) closed that step without it", late.Reason);
        Assert.Equal(1, aggregator.LatePushesDropped);
        // A whole push of it covers range 0 too: refused whole, nothing added to ranges 1 and 2.
        Assert.Equal(PushOutcomeKind.Late, PushWhole(aggregator, slots[2], 0).Kind);
        Assert.Equal(2, aggregator.LatePushesDropped);
        foreach (var w in slots.Take(2)) Assert.True(Push(aggregator, w, 0, 1).IsApplied);
        Assert.Equal(0, model.RangeStep(1));   // worker 2 is expected again: range 1 waits for it
        Assert.True(Push(aggregator, slots[2], 0, 1).IsApplied);
        Assert.Equal(1, model.RangeStep(1));
    }

    [Fact]
    public void Eviction_closes_every_range_that_waited_only_for_the_evicted_worker_and_says_when_that_closed_the_step()
    {
        var (aggregator, model, slots) = Create();
        foreach (int r in new[] { 0, 1, 2 }) Assert.True(Push(aggregator, slots[0], 0, r).IsApplied);
        Assert.False(aggregator.CanProceed(slots[0], 1));
        slots[1].Evicted = true;
        Assert.True(aggregator.OnMembershipChanged());
        Assert.Equal(1, model.Step);
        Assert.True(aggregator.CanProceed(slots[0], 1));
        Assert.Equal([-1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f], model.Parameters.ToArray());   // worker 0's gradient alone
        Assert.False(aggregator.OnMembershipChanged());   // nothing more to close
    }

    [Fact]
    public void A_quorum_below_n_closes_a_range_at_that_many_pushes_and_a_worker_s_clock_is_its_oldest_range()
    {
        var (aggregator, model, slots) = Create(workers: 3, quorum: 2);
        Assert.True(Push(aggregator, slots[0], 0, 0, 2f).IsApplied);
        Assert.Equal(0, model.RangeStep(0));
        Assert.True(Push(aggregator, slots[2], 0, 0, 4f).IsApplied);
        Assert.Equal(1, model.RangeStep(0));
        Assert.Equal([-3f, -3f, -3f], model.Parameters[..3].ToArray());   // the mean of the quorum's two pushes
        Assert.Equal(PushOutcomeKind.Late, Push(aggregator, slots[1], 0, 0).Kind);

        Assert.True(Push(aggregator, slots[0], 1, 0).IsApplied);   // range 0 of step 1: worker 0's clock stays at its oldest range's step
        Assert.Equal(0, slots[0].Clock);
        Assert.True(Push(aggregator, slots[0], 0, 1).IsApplied);
        Assert.True(Push(aggregator, slots[0], 0, 2).IsApplied);
        Assert.Equal(1, slots[0].Clock);
    }

    [Fact]
    public void The_first_chunk_s_admission_answers_as_the_whole_push_would_and_adds_nothing()
    {
        var (aggregator, model, slots) = Create();
        Assert.True(aggregator.Admit(slots[0], Header(0, 0, 2)).IsApplied);
        Assert.True(aggregator.Admit(slots[0], new PushHeader(0, 0, 0, 1, 1.0)).IsApplied);   // a whole push: every range
        var ahead = aggregator.Admit(slots[0], Header(0, 1, 1));
        Assert.Equal(PushOutcomeKind.Refused, ahead.Kind);
        Assert.Contains("range [3, 4) is still at step 0", ahead.Reason);
        Assert.True(Push(aggregator, slots[0], 0, 2).IsApplied);
        Assert.Equal(PushOutcomeKind.Duplicate, aggregator.Admit(slots[0], Header(0, 0, 2)).Kind);
        Assert.Equal(PushOutcomeKind.Duplicate, aggregator.Admit(slots[0], new PushHeader(0, 0, 0, 1, 1.0)).Kind);
        Assert.True(aggregator.Admit(slots[1], new PushHeader(1, 0, 0, 1, 1.0)).IsApplied);
        Assert.Equal((0L, 0L), (model.RangesClosed, model.Step));
        var misaligned = Assert.Throws<ShardException>(() => aggregator.Admit(slots[0], new PushHeader(0, 0, 0, 1, 1.0, Piece: new PieceRange(2, 2))));
        Assert.Contains("does not start and end at the shard's closing ranges", misaligned.Message);
    }

    [Fact]
    public void A_range_one_step_ahead_of_the_shard_takes_the_next_step_s_pushes_but_closes_it_only_after_the_shard_s_step_and_the_boundary_stays_readable()
    {
        var (aggregator, model, slots) = Create();
        foreach (var w in slots) Assert.True(Push(aggregator, w, 0, 0).IsApplied);
        Assert.Equal((0L, 1L), (model.Step, model.RangeStep(0)));

        // No honest worker pushes step 1 before step 0 closed (it needs every range of step 1's parameters); a client can.
        foreach (var w in slots)
        {
            var ahead = Push(aggregator, w, 1, 0, 2f);
            Assert.Equal((true, false), (ahead.IsApplied, ahead.ClosedStep));
        }
        Assert.Equal(1L, model.RangeStep(0));   // held: closing would take range 0 two steps ahead of the shard's step 0
        Assert.Equal([-1f, -1f, -1f], model.Parameters[..3].ToArray());

        Assert.True(Push(aggregator, slots[0], 0, 1).IsApplied);
        Assert.True(Push(aggregator, slots[0], 0, 2).IsApplied);
        Assert.True(Push(aggregator, slots[1], 0, 1).IsApplied);
        var closing = Push(aggregator, slots[1], 0, 2);
        Assert.Equal((true, true, 1L), (closing.IsApplied, closing.ClosedStep, closing.Step));
        Assert.Equal((1L, 2L, 1L, 1L), (model.Step, model.RangeStep(0), model.RangeStep(1), model.RangeStep(2)));   // the held range closed with it
        Assert.Equal([-3f, -3f, -3f], model.Parameters[..3].ToArray());
        var (parameters, _) = model.ExportBoundary();   // what every checkpoint reads: it threw once a range ran two steps ahead
        Assert.Equal([-1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f], parameters);   // step 1 in every range, the held range's included
    }
    [Fact]
    public void A_push_that_would_overflow_its_last_range_s_row_count_is_refused_before_any_range_takes_it()
    {
        var (aggregator, model, slots) = Create();
        // Range 2 (the last a whole push covers) holds 2^40 rows of step 0 already: one more row there is past the limit.
        Assert.True(aggregator.Accept(slots[0], new PushHeader(0, 0, 0, GradientLimits.MaxSampleCount, 1.0, Piece: Cut[2]), new float[4]).IsApplied);
        var overflow = Assert.Throws<ShardException>(() => PushWhole(aggregator, slots[1], 0, 5f));
        Assert.Contains($"past {GradientLimits.MaxSampleCount} rows", overflow.Message);

        // Nothing of it was added to ranges 0 and 1: worker 1 pushes them afresh (not Duplicate), and they close with
        // worker 0's and the fresh push's gradients alone.
        foreach (var r in new[] { 0, 1 })
        {
            Assert.True(Push(aggregator, slots[0], 0, r, 1f).IsApplied);
            Assert.True(Push(aggregator, slots[1], 0, r, 3f).IsApplied);
        }
        Assert.Equal((1L, 1L), (model.RangeStep(0), model.RangeStep(1)));
        Assert.Equal([-2f, -2f, -2f, -2f], model.Parameters[..4].ToArray());   // (1 + 3) / 2 rows, not (1 + 3 + 5) / 3
    }

    [Fact]
    public void A_piece_outside_the_shard_or_a_push_whose_length_is_not_its_piece_s_is_malformed()
    {
        var (aggregator, model, slots) = Create();
        var outside = Assert.Throws<ShardException>(() =>
            aggregator.Accept(slots[0], new PushHeader(0, 0, 0, 1, 1.0, Piece: new PieceRange(4, 8)), new float[8]));
        Assert.Contains("is not a non-empty range of the shard's 8 parameters", outside.Message);
        var wrongLength = Assert.Throws<ShardException>(() => aggregator.Accept(slots[0], Header(0, 0, 2), new float[3]));
        Assert.Contains("push of piece [4, 8) carries 3 values", wrongLength.Message);
        var wholeTooShort = Assert.Throws<ShardException>(() => aggregator.Accept(slots[0], new PushHeader(0, 0, 0, 1, 1.0), new float[7]));
        Assert.Contains("carries 7 values", wholeTooShort.Message);
        Assert.True(Push(aggregator, slots[0], 0, 2).IsApplied);   // none of them counted as worker 0's piece of range 2
        Assert.Equal(0, model.RangesClosed);
    }

    [Fact]
    public void With_every_worker_evicted_no_range_closes_empty()
    {
        var (aggregator, model, slots) = Create();
        Assert.True(Push(aggregator, slots[0], 0, 0).IsApplied);
        foreach (var w in slots) w.Evicted = true;
        Assert.False(aggregator.OnMembershipChanged());   // ranges 1 and 2 have no rows: they wait, they do not close on nothing
        Assert.Equal((0L, 1L, 0L, 0L), (model.Step, model.RangeStep(0), model.RangeStep(1), model.RangeStep(2)));
        Assert.Equal([0f, 0f, 0f, 0f, 0f], model.Parameters[3..].ToArray());
    }
}
