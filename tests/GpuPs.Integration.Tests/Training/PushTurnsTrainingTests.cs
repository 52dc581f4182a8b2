using GpuPs.Cli.Cluster;
using GpuPs.Integration.Tests.DataPlane;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Training;

/// <summary>
/// Strict round-robin push turns over real sockets on loopback (two shards, the framed TCP data plane for tensors and
/// gRPC for the turns): whole pushes and pieces (per-range closing in BSP, pushes gathered whole in coded) never have
/// more than the push concurrency in flight on a shard, as each shard counts its turns, and training ends with the model
/// of the same run with simultaneous pushes — coded included, whose first decodable set still closes each step.
/// </summary>
public class PushTurnsTrainingTests
{
    [Theory]
    [InlineData(SyncMode.Bsp, 0, 0, 1)]
    [InlineData(SyncMode.Bsp, 0, 4, 1)]
    [InlineData(SyncMode.Bsp, 0, 4, 2)]
    [InlineData(SyncMode.Coded, 2, 0, 1)]
    [InlineData(SyncMode.Coded, 2, 4, 1)]
    public async Task Turns_keep_at_most_the_concurrency_in_flight_and_train_the_simultaneous_model(SyncMode mode, int stragglers, int pieceFloats, int concurrency)
    {
        var simultaneous = TransportEquivalenceTests.Settings with
        {
            Mode = mode, Stragglers = stragglers, Code = mode == SyncMode.Coded ? "cyclic" : "auto", Transport = TransportChoice.Tcp,
            Pieces = pieceFloats > 0 ? new PieceOptions(PieceFloats: pieceFloats) : null,
        };
        var turns = simultaneous with { Schedule = "round-robin", PushConcurrency = concurrency };
        var plain = await TrainingRun.RunAsync(simultaneous, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var log = new CapturedLog();
        var ordered = await TrainingRun.RunAsync(turns, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);

        Assert.Equal(plain.Steps, ordered.Steps);
        FullBatchReference.AssertClose(plain.Parameters.Select(v => (double)v).ToArray(), ordered.Parameters, 1e-5);
        FullBatchReference.AssertClose(FullBatchReference.Descend(simultaneous), ordered.Parameters, 1e-5);
        var grants = log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Shard {Shard} push turn", StringComparison.Ordinal)).ToList();
        foreach (int shard in new[] { 0, 1 })
        {
            var mine = grants.Where(e => CapturedLog.Property(e, "Shard") is int s && s == shard).ToList();
            // Every push (BSP: every worker's every step; per range: every range too) took a turn; coded: at least the
            // decodable sets that closed the steps.
            Assert.True(mine.Count >= (mode == SyncMode.Bsp ? simultaneous.Workers : 1) * simultaneous.Steps, $"{mine.Count} turns on shard {shard}");
            Assert.All(mine, e => Assert.InRange((int)CapturedLog.Property(e, "InFlight")!, 1, concurrency));
            if (mode == SyncMode.Bsp && pieceFloats > 0)
                Assert.Contains(mine, e => CapturedLog.Property(e, "Unit") is int unit && unit > 0);   // turns per range
        }
        Assert.True(ordered.WorkerReports.Sum(w => w.SlotWaitSeconds) > 0, "no push waited for a turn");
    }
}
