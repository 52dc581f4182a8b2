using GpuPs.Core.Shards;
using GpuPs.Protocol;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests.Pieces;

/// <summary>Two workers' pushes of step 0 and the model whole pushes of them give: what pieced pushes must reproduce.</summary>
public static class PieceFixture
{
    /// <summary>Worker 0's gradient sum over 2 rows, for step 0 of a 2-worker BSP job.</summary>
    public static readonly float[] Gradient0 = [1, 2, 3, 4, 5, 6, 7, 8];

    /// <summary>Worker 1's.</summary>
    public static readonly float[] Gradient1 = [8, -7, 6, -5, 4, -3, 2, -1];

    /// <summary>Pushes <paramref name="gradient"/>'s piece [offset, offset + length) as worker <paramref name="worker"/>'s push of <paramref name="step"/>.</summary>
    public static PushOutcome PushPiece(IParameterShard shard, int worker, long step, float[] gradient, int offset, int length, long samples = 2) =>
        shard.Push(new PushHeader(worker, step, 0, samples, 1.0, Piece: new PieceRange(offset, length)), gradient.AsSpan(offset, length));

    /// <summary>The parameters after step 0 with whole pushes of <see cref="Gradient0"/> and <see cref="Gradient1"/>, from ones.</summary>
    public static float[] WholePushes()
    {
        using var whole = Create(Job(SyncMode.Bsp, workers: 2, steps: 3), Filled(1f));
        RegisterAll(whole, 2);
        whole.Push(new PushHeader(0, 0, 0, 2, 1.0), Gradient0);
        whole.Push(new PushHeader(1, 0, 0, 2, 1.0), Gradient1);
        return Parameters(whole);
    }
}
