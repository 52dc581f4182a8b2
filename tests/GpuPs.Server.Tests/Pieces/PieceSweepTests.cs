using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Server.Pieces;
using GpuPs.Tests.Shared;
using Serilog;
using static GpuPs.Server.Tests.Pieces.PieceFixture;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>
/// When the pieces' shard lets go of an incomplete push: at once when the shard refuses one of its pieces on admission,
/// and otherwise at a sweep (at most once per <see cref="PieceAssemblingShard.SweepInterval"/>, on the shard's clock)
/// once the shard would no longer take it: its step closed without it, or the worker is unknown. A push the shard still
/// takes is never dropped.
/// </summary>
public class PieceSweepTests
{
    private readonly ManualTimeProvider _clock = new();

    /// <summary>A backup job that closes a step on two of its three workers' pushes, wrapped, on the manual clock.</summary>
    private (ParameterShard Inner, PieceAssemblingShard Shard) Backup()
    {
        var inner = Create(Job(SyncMode.Backup, workers: 3, steps: 5) with { Stragglers = 1 }, Filled(1f), _clock);
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget: null, _clock);
        RegisterAll(shard, 3);
        return (inner, shard);
    }

    /// <summary>Workers 0 and 1 push <paramref name="step"/> whole, which closes it.</summary>
    private static void CloseWithoutWorker2(IParameterShard shard, long step)
    {
        shard.Push(new PushHeader(0, step, 0, 2, 1.0), Gradient0);
        Assert.True(shard.Push(new PushHeader(1, step, 0, 2, 1.0), Gradient1).ClosedStep);
    }

    [Fact]
    public void Open_pushes_are_checked_at_most_once_a_second_and_one_the_shard_still_takes_is_kept()
    {
        var (inner, shard) = Backup();
        using var _ = inner;
        PushPiece(shard, 2, 0, Gradient0, 0, 4);
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });   // a sweep: step 0 is open, the shard still takes the push
        Assert.Equal(1, shard.OpenPushes);
        CloseWithoutWorker2(shard, 0);

        _clock.Advance(TimeSpan.FromMilliseconds(999));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        Assert.Equal(1, shard.OpenPushes);   // the next sweep is due a second after the last one, not before
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        Assert.Equal(0, shard.OpenPushes);
    }

    [Fact]
    public void A_piece_refused_on_admission_drops_its_push_at_once_and_an_admission_sweeps_too()
    {
        var (inner, shard) = Backup();
        using var _ = inner;
        PushPiece(shard, 2, 0, Gradient0, 0, 4);
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });   // swept now: none is due for a second
        CloseWithoutWorker2(shard, 0);

        AssertOutcome(PushOutcomeKind.Late, "", shard.Admit(new PushHeader(2, 0, 0, 2, 1.0, Piece: new PieceRange(4, 4))));
        Assert.Equal(0, shard.OpenPushes);

        // Worker 0's push of step 1 stays half sent while the others close step 1; a second later, admitting any piece sweeps it.
        PushPiece(shard, 0, 1, Gradient0, 0, 4);
        shard.Push(new PushHeader(1, 1, 0, 2, 1.0), Gradient1);
        Assert.True(shard.Push(new PushHeader(2, 1, 0, 2, 1.0), Gradient0).ClosedStep);
        _clock.Advance(PieceAssemblingShard.SweepInterval);
        Assert.True(shard.Admit(new PushHeader(1, 2, 0, 2, 1.0, Piece: new PieceRange(0, 4))).IsApplied);
        Assert.Equal(0, shard.OpenPushes);
    }

    [Fact]
    public void An_open_push_of_a_worker_the_shard_does_not_know_is_dropped_at_the_next_sweep()
    {
        using var inner = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f), _clock);
        var shard = new PieceAssemblingShard(inner, Log.Logger, budget: null, _clock);
        RegisterAll(shard, 1);
        PushPiece(shard, 1, 0, Gradient0, 0, 4);   // worker 1 never registered: its pieces are gathered, the shard would refuse the push
        Assert.Equal(1, shard.OpenPushes);

        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 });
        Assert.Equal(0, shard.OpenPushes);
        Assert.Equal(Filled(1f), Parameters(shard));
    }
}
