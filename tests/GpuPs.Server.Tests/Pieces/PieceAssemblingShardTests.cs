using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Pieces;
using Serilog;
using static GpuPs.Server.Tests.Pieces.PieceFixture;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// A push split into pieces reaches the shard as exactly the push an unsplit client sends: pieces in any order give the
/// same model, a repeated piece is never counted twice, a piece of a completed push is a duplicate, and malformed
/// pieces are refused without touching the model.
/// </summary>
public class PieceAssemblingShardTests
{
    private static PieceAssemblingShard Pieced(ParameterShard shard) => new(shard, Log.Logger);

    [Fact]
    public void Pieces_in_any_order_give_the_model_a_whole_push_gives_and_only_the_last_piece_closes_the_step()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        var shard = Pieced(inner);
        RegisterAll(shard, 2);
        // Worker 0: three pieces, last piece first; worker 1: two pieces in key order. A piece that leaves its push
        // incomplete is held: Applied, neither closing the step nor finishing the job.
        var held = PushOutcome.Applied(0, closedStep: false, jobFinished: false);
        Assert.Equal(held, PushPiece(shard, 0, 0, Gradient0, 5, 3));
        Assert.Equal(held, PushPiece(shard, 0, 0, Gradient0, 0, 2));
        Assert.Equal(1, shard.OpenPushes);
        var completed0 = PushPiece(shard, 0, 0, Gradient0, 2, 3);
        Assert.True(completed0.IsApplied);
        Assert.False(completed0.ClosedStep);
        Assert.Equal(0, shard.OpenPushes);
        Assert.Equal(Filled(1f), Parameters(shard));   // nothing applied to the model before every worker's push is whole
        Assert.False(PushPiece(shard, 1, 0, Gradient1, 0, 4).ClosedStep);
        var closing = PushPiece(shard, 1, 0, Gradient1, 4, 4);

        Assert.True(closing.ClosedStep);
        Assert.Equal(WholePushes(), Parameters(shard));
        Assert.Equal(2, shard.Status().PushesApplied);
    }

    [Fact]
    public void A_repeated_piece_is_held_once_and_a_piece_of_a_completed_push_is_a_duplicate()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        var shard = Pieced(inner);
        RegisterAll(shard, 2);
        PushPiece(shard, 0, 0, Gradient0, 0, 4);
        // A retried call sends the same piece again (say its answer was lost): held already, not added a second time.
        Assert.True(PushPiece(shard, 0, 0, Gradient0, 0, 4).IsApplied);
        PushPiece(shard, 0, 0, Gradient0, 4, 4);
        AssertOutcome(PushOutcomeKind.Duplicate, "already completed", PushPiece(shard, 0, 0, Gradient0, 4, 4));
        PushPiece(shard, 1, 0, Gradient1, 0, 8);

        Assert.Equal(WholePushes(), Parameters(shard));
        Assert.Equal(2, shard.Status().PushesApplied);
    }

    [Fact]
    public void Malformed_pieces_are_refused_and_change_nothing()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        var shard = Pieced(inner);
        RegisterAll(shard, 2);
        PushPiece(shard, 0, 0, Gradient0, 2, 3);
        AssertError(ShardErrorKind.InvalidRequest, "overlaps piece [2, 5)", () => PushPiece(shard, 0, 0, Gradient0, 4, 2));
        AssertError(ShardErrorKind.InvalidRequest, "overlaps piece [2, 5)", () => PushPiece(shard, 0, 0, Gradient0, 0, 3));
        AssertError(ShardErrorKind.InvalidRequest, "piece [2, 4) overlaps piece [2, 5)", () => PushPiece(shard, 0, 0, Gradient0, 2, 2));
        AssertError(ShardErrorKind.InvalidRequest, "not a non-empty range", () => shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(6, 3)), new float[3]));
        AssertError(ShardErrorKind.InvalidRequest, "not a non-empty range", () => shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(-1, 2)), new float[2]));
        AssertError(ShardErrorKind.InvalidRequest, "carries 1 values, not 2", () => shard.Push(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(0, 2)), new float[1]));
        AssertError(ShardErrorKind.InvalidRequest, "the push's first piece", () => PushPiece(shard, 0, 0, Gradient0, 0, 2, samples: 3));
        var nan = (float[])Gradient0.Clone();
        nan[0] = float.NaN;
        PushPiece(shard, 0, 0, nan, 0, 2);
        // The whole push is validated by the shard when its last piece arrives: NaN refuses it, nothing is applied.
        AssertError(ShardErrorKind.InvalidRequest, "NaN", () => PushPiece(shard, 0, 0, Gradient0, 5, 3));
        Assert.Equal(Filled(1f), Parameters(shard));
        Assert.Equal(0, shard.Status().PushesApplied);
    }

    [Fact]
    public void A_late_piece_drops_what_was_held_of_its_push()
    {
        using var inner = Create(Job(SyncMode.Backup, workers: 3, steps: 3) with { Stragglers = 1 }, Filled(1f));
        var shard = Pieced(inner);
        RegisterAll(shard, 3);
        PushPiece(shard, 2, 0, Gradient0, 0, 4);
        Assert.Equal(1, shard.OpenPushes);
        // Backup with one straggler tolerated closes step 0 on two pushes: worker 2's remaining piece is late.
        shard.Push(new PushHeader(0, 0, 0, 2, 1.0), Gradient0);
        Assert.True(shard.Push(new PushHeader(1, 0, 0, 2, 1.0), Gradient1).ClosedStep);
        var late = shard.Admit(new PushHeader(2, 0, 0, 2, 1.0, Piece: new PieceRange(4, 4)));

        Assert.Equal(PushOutcomeKind.Late, late.Kind);
        Assert.Equal(0, shard.OpenPushes);
    }

    [Fact]
    public void A_worker_holds_at_most_four_open_pushes_and_opening_a_fifth_drops_its_oldest()
    {
        using var inner = Create(Job(SyncMode.Asp, workers: 1, steps: 100), Filled(1f));
        var budget = new PushMemoryBudget(8 * ShardFixture.Length * sizeof(float));
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget);
        RegisterAll(shard, 1);
        for (int step = 0; step < PieceAssemblingShard.MaxOpenPerWorker + 2; step++) PushPiece(shard, 0, step, Gradient0, 0, 4);

        Assert.Equal(PieceAssemblingShard.MaxOpenPerWorker, shard.OpenPushes);
        Assert.Equal(PieceAssemblingShard.MaxOpenPerWorker * ShardFixture.Length * sizeof(float), budget.InUse);   // the dropped ones' buffers went back
        // Steps 0 and 1 were dropped, 2 to 5 are open: step 2's second half completes its push, step 0's opens it again.
        PushPiece(shard, 0, 2, Gradient0, 4, 4);
        Assert.Equal(PieceAssemblingShard.MaxOpenPerWorker - 1, shard.OpenPushes);
        PushPiece(shard, 0, 0, Gradient0, 4, 4);
        Assert.Equal(PieceAssemblingShard.MaxOpenPerWorker, shard.OpenPushes);
    }

    [Fact]
    public void The_last_4096_completed_pushes_are_remembered_as_duplicates_and_no_more()
    {
        using var inner = Create(Job(SyncMode.Asp, workers: 1, steps: 5000), Filled(0f));
        var shard = Pieced(inner);
        RegisterAll(shard, 1);
        var zeros = new float[ShardFixture.Length];
        for (int step = 0; step <= 4096; step++)
        {
            PushPiece(shard, 0, step, zeros, 0, 4);
            Assert.True(PushPiece(shard, 0, step, zeros, 4, 4).IsApplied);
        }

        AssertOutcome(PushOutcomeKind.Duplicate, "already completed", PushPiece(shard, 0, 1, zeros, 0, 4));   // the oldest remembered
        Assert.Equal(0, shard.OpenPushes);
        Assert.True(PushPiece(shard, 0, 0, zeros, 0, 4).IsApplied);   // forgotten: gathered again (the shard refuses it whole)
        Assert.Equal(1, shard.OpenPushes);
    }

    [Fact]
    public async Task Pieces_pushed_asynchronously_are_gathered_the_same_way_and_their_buffer_goes_back()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        var budget = new PushMemoryBudget(4 * ShardFixture.Length * sizeof(float));
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget);
        RegisterAll(shard, 2);

        var held = await shard.PushAsync(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(4, 4)), Gradient0.AsMemory(4, 4), CancellationToken.None);
        Assert.Equal(PushOutcome.Applied(0, closedStep: false, jobFinished: false), held);
        Assert.Equal((1, ShardFixture.Length * sizeof(float)), (shard.OpenPushes, budget.InUse));
        var completed = await shard.PushAsync(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(0, 4)), Gradient0.AsMemory(0, 4), CancellationToken.None);
        Assert.Equal((true, false), (completed.IsApplied, completed.ClosedStep));
        Assert.Equal((0, 0L), (shard.OpenPushes, budget.InUse));
        Assert.Equal(Filled(1f), Parameters(shard));
        var closing = await shard.PushAsync(new PushHeader(1, 0, 0, 2, 1.0), Gradient1, CancellationToken.None);   // a whole push goes straight through

        Assert.True(closing.ClosedStep);
        Assert.Equal(WholePushes(), Parameters(shard));
        Assert.Equal(2, shard.Status().PushesApplied);
    }

    [Fact]
    public void A_piece_pull_copies_the_range_with_its_offset_in_the_full_vector()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 1, steps: 3), [0, 1, 2, 3, 4, 5, 6, 7]);
        var shard = Pieced(inner);
        var piece = new float[3];
        var result = shard.CopyParameters(4, piece);

        Assert.Equal([4f, 5f, 6f], piece);
        Assert.Equal(4, result.Offset);
        Assert.Equal(3, result.Length);
        AssertError(ShardErrorKind.InvalidRequest, "not a non-empty range", () => shard.CopyParameters(6, new float[3]));
    }
}
