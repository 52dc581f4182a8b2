using GpuPs.Core.Compression;
using GpuPs.Core.Shards;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Server.Observers;
using Serilog;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;

namespace GpuPs.Server.Tests;

/// <summary>Builds small shards for domain tests: SGD with learning rate 1 (unless a test picks another optimizer) so an update is exactly <c>p − mean gradient</c>.</summary>
public static class ShardFixture
{
    public const int Length = 8;

    public static TrainingJob Job(SyncMode mode, int workers, long steps, int staleness = 0, int heartbeatTimeoutMs = 60_000) => new()
    {
        Model = new ModelShape(Kernels.ModelKind.Logistic, Length - 1, 2),
        Mode = SyncModes.Of(mode),
        Staleness = staleness,
        Workers = workers,
        Steps = steps,
        Seed = 1,
        Dataset = "synthetic",
        HeartbeatTimeoutMs = heartbeatTimeoutMs,
    };

    public static ParameterShard Create(TrainingJob job, float[]? initial = null, TimeProvider? time = null, ILogger? log = null, IShardObserver[]? observers = null,
        OptimizerSettings? optimizer = null, ShardCheckpoint? resume = null) =>
        new(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Offset = 0, Length = Length },
                optimizer ?? new OptimizerSettings(OptimizerKind.Sgd, 1f), initial ?? new float[Length], time, observers, resume),
            Accelerators.Create(AcceleratorChoice.Simd), log ?? Log.Logger);

    public static void RegisterAll(IParameterShard shard, int workers)
    {
        for (int i = 0; i < workers; i++) shard.Register(new RegisterRequest { RequestedWorkerId = -1 });
    }

    public static float[] Parameters(IParameterShard shard)
    {
        var values = new float[shard.Info.Length];
        shard.CopyParameters(values);
        return values;
    }

    /// <summary>A BSP job whose pulls are compressed (top-k, half the values): the shard keeps views for workers' copies.</summary>
    public static TrainingJob CompressedPulls(int workers) =>
        Job(SyncMode.Bsp, workers, steps: 10) with { Compression = new CompressionSettings(Pull: CompressionKind.TopK, TopKRatio: 0.5) };

    public static float[] Filled(float value) => Enumerable.Repeat(value, Length).ToArray();

    /// <summary>A malformed request: <paramref name="action"/> throws <see cref="ShardException"/> of <paramref name="kind"/>.</summary>
    public static void AssertError(ShardErrorKind kind, string messagePart, Action action)
    {
        var e = Assert.Throws<ShardException>(action);
        Assert.Equal(kind, e.Kind);
        Assert.Contains(messagePart, e.Message);
    }

    /// <summary>A push the mode's rule refused: answered, not thrown.</summary>
    public static void AssertOutcome(PushOutcomeKind kind, string reasonPart, PushOutcome outcome)
    {
        Assert.Equal(kind, outcome.Kind);
        Assert.Contains(reasonPart, outcome.Reason);
    }
}
