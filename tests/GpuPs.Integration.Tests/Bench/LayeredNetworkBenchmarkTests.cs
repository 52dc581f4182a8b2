using GpuPs.Cli.Bench.Network;
using Serilog;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// The layered scenario's smoke runs: worker processes in their own namespaces push and pull the MLP in pieces under a
/// tuned credit within the round-robin slots (the shard closing each piece's range on its own), and as a wavefront,
/// across a shaped server link; the jobs complete with their compute time and link bound reported, and the wavefront
/// ends at the loss of whole pushes.
/// </summary>
[Collection(NetworkLabCollection.Name)]
public class LayeredNetworkBenchmarkTests
{
    [NetworkFact]
    public async Task Pieces_within_round_robin_slots_train_the_mlp_across_shaped_namespaces()
    {
        var options = new NetworkBenchmarkOptions(Workers: 2, Features: 99, Classes: 10, Steps: 4, ServerMbit: 100, Hidden: 50);
        // Pieces of 1,000 values: the BSP shard closes the MLP's 5,510 values in six ranges, each pulled as it closes.
        var scenario = NetworkScenario.LayeredModel(2, 100, new Worker.Scheduling.PieceOptions(PieceFloats: 1000)).Single(s => s.Schedule == "round-robin+pieces");

        var row = await NetworkBenchmark.RunScenarioAsync(scenario, options, Log.Logger, CancellationToken.None);

        Assert.Equal(4, row.Steps);
        Assert.Equal(50 * 100 + 10 * 51, row.Parameters);
        // Every step, each worker pushes its 5,510 floats to the server and pulls them back, pieces or not.
        Assert.True(row.BusiestLinkMBPerStep >= 2 * 5510 * 4 / 1e6, $"{row}");
        Assert.True(row.ComputeS > 0 && row.BoundS >= row.LinkBoundS, $"{row}");
    }

    [NetworkFact]
    public async Task The_wavefront_trains_the_mlp_across_shaped_namespaces_to_the_loss_of_whole_pushes()
    {
        var options = new NetworkBenchmarkOptions(Workers: 2, Features: 99, Classes: 10, Steps: 4, ServerMbit: 100, Hidden: 50);
        var scenarios = NetworkScenario.LayeredModel(2, 100, new Worker.Scheduling.PieceOptions(PieceFloats: 1000));
        var wavefront = scenarios.Single(s => s.Schedule == "wavefront");
        Assert.Equal(Worker.ComputeOverlap.Wavefront, wavefront.Overlap);

        var row = await NetworkBenchmark.RunScenarioAsync(wavefront, options, Log.Logger, CancellationToken.None);
        var whole = await NetworkBenchmark.RunScenarioAsync(scenarios.Single(s => s.Schedule == "simultaneous"), options, Log.Logger, CancellationToken.None);

        Assert.Equal(4, row.Steps);
        Assert.True(row.BusiestLinkMBPerStep >= 2 * 5510 * 4 / 1e6, $"{row}");
        Assert.True(double.IsFinite(row.FinalLoss), $"{row}");
        Assert.Equal(whole.FinalLoss, row.FinalLoss, 1e-5);
    }
}
