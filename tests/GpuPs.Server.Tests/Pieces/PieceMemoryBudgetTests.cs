using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Pieces;
using GpuPs.Tests.Shared;
using Serilog;
using static GpuPs.Server.Tests.Pieces.PieceFixture;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// Issue 15, item 2: a push in pieces holds a shard-sized buffer until its last piece arrives, and those buffers count
/// against the server's in-flight push budget: a push whose buffer does not fit is refused busy (and succeeds when
/// retried once room is back, losing nothing), and a buffer goes back when its push completes or when the shard would no
/// longer take it (its step closed without it: the worker was evicted).
/// </summary>
public class PieceMemoryBudgetTests
{
    private const long Buffer = Length * sizeof(float);   // one open push: 32 bytes

    private static readonly float[][] Gradients = [[1, 2, 3, 4, 5, 6, 7, 8], [8, -7, 6, -5, 4, -3, 2, -1], [0.5f, 0.5f, -1, 2, -2, 1, 0, 3]];

    [Fact]
    public void Open_pushes_hold_their_buffers_in_the_budget_and_one_that_does_not_fit_is_refused_busy_then_taken_when_retried()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 3, steps: 3), Filled(1f));
        var budget = new PushMemoryBudget(2 * Buffer);   // two open pushes
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget);
        RegisterAll(shard, 3);

        PushPiece(shard, 0, 0, Gradients[0], 0, 4);
        PushPiece(shard, 1, 0, Gradients[1], 0, 4);
        Assert.Equal(2 * Buffer, budget.InUse);
        AssertError(ShardErrorKind.Unavailable, "in-flight push budget (--max-inflight-push-mb) and this push's buffer needs 32 bytes more", () => PushPiece(shard, 2, 0, Gradients[2], 0, 4));
        Assert.Equal((2 * Buffer, 2, 1L), (budget.InUse, shard.OpenPushes, budget.Refused));   // nothing of the refused piece held

        Assert.True(PushPiece(shard, 0, 0, Gradients[0], 4, 4).IsApplied);   // completes worker 0's push: its buffer goes back
        Assert.Equal(Buffer, budget.InUse);
        PushPiece(shard, 2, 0, Gradients[2], 0, 4);   // the retry fits now
        PushPiece(shard, 2, 0, Gradients[2], 4, 4);
        var closing = PushPiece(shard, 1, 0, Gradients[1], 4, 4);

        Assert.True(closing.ClosedStep);
        Assert.Equal((0L, 0), (budget.InUse, shard.OpenPushes));
        Assert.Equal(WholePushes(), Parameters(shard));
    }

    [Fact]
    public void An_open_push_of_an_evicted_worker_is_dropped_once_its_step_closes_without_it_and_its_buffer_released()
    {
        var clock = new ManualTimeProvider();
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3, heartbeatTimeoutMs: 1000), Filled(1f), clock);
        var budget = new PushMemoryBudget(4 * Buffer);
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget, clock);
        RegisterAll(shard, 2);
        PushPiece(shard, 0, 0, Gradients[0], 0, 4);   // worker 0 sends half its push, then goes silent
        PushPiece(shard, 1, 0, Gradients[1], 0, 8);
        Assert.Equal((Buffer, 1), (budget.InUse, shard.OpenPushes));

        for (int i = 0; i < 6; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(400));
            shard.Heartbeat(new HeartbeatRequest { WorkerId = 1 });   // worker 1 stays alive; worker 0 is evicted, which closes step 0
        }

        Assert.Equal(1, inner.Status().Step);
        Assert.Equal((0L, 0), (budget.InUse, shard.OpenPushes));
        // The rest of the dropped push is refused on admission, as the edges ask before reading a piece: its step closed.
        AssertOutcome(PushOutcomeKind.Late, "", shard.Admit(new PushHeader(0, 0, 0, 2, 1.0, Piece: new PieceRange(4, 4))));
        Assert.Equal((0L, 0), (budget.InUse, shard.OpenPushes));
    }

    /// <summary>The model after step 0 with whole pushes of the three gradients, from ones.</summary>
    private static float[] WholePushes()
    {
        using var whole = Create(Job(SyncMode.Bsp, workers: 3, steps: 3), Filled(1f));
        RegisterAll(whole, 3);
        for (int w = 0; w < 3; w++) whole.Push(new PushHeader(w, 0, 0, 2, 1.0), Gradients[w]);
        return Parameters(whole);
    }
}
