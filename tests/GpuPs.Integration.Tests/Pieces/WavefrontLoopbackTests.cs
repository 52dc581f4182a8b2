using GpuPs.Cli.Cluster;
using GpuPs.Integration.Tests.DataPlane;
using GpuPs.Integration.Tests.Training;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Pieces;

/// <summary>
/// The wavefront over real loopback sockets, on both planes: BSP training of the MLP whose workers push each range as
/// its gradient block is computed ends with the model of the same run computing whole gradients (pieces or not), and a
/// job where the wavefront does not apply (softmax) runs as without it, saying why.
/// </summary>
public class WavefrontLoopbackTests
{
    // MLP 16 → 6 → 3 (123 parameters, two shards of 62 and 61) over 603 rows, 5 workers, batches of 48 that wrap around
    // each worker's ~96 training rows; ranges of 10 values cut W1's rows of 16.
    private static readonly GpuPs.Cli.Settings.TrainSettings Mlp = TransportEquivalenceTests.Settings with
    {
        Model = Kernels.ModelKind.Mlp, Hidden = 6, BatchSize = 48, Steps = 6,
        Pieces = new PieceOptions(PieceFloats: 10),
    };

    [Theory]
    [InlineData(TransportChoice.Tcp)]
    [InlineData(TransportChoice.Grpc)]
    public async Task Bsp_training_with_the_wavefront_gives_the_model_of_whole_gradients(TransportChoice transport)
    {
        var pieced = Mlp with { Transport = transport };
        var wholeTensors = pieced with { Pieces = null };
        var log = new CapturedLog();

        var withWavefront = await TrainingRun.RunAsync(pieced with { Overlap = ComputeOverlap.Wavefront }, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);
        var computedWhole = await TrainingRun.RunAsync(pieced, NullTrainingProgress.Instance, Serilog.Log.Logger, CancellationToken.None);
        var unpieced = await TrainingRun.RunAsync(wholeTensors, NullTrainingProgress.Instance, Serilog.Log.Logger, CancellationToken.None);

        Assert.Equal(Mlp.Steps, withWavefront.Steps);
        Assert.Equal(Mlp.Workers, log.Events.Count(e => e.MessageTemplate.Text.Contains("computes as a wavefront", StringComparison.Ordinal)));
        Assert.DoesNotContain(log.Events, e => e.MessageTemplate.Text.Contains("despite --overlap wavefront", StringComparison.Ordinal));
        Assert.Contains("--overlap wavefront", withWavefront.Command);
        FullBatchReference.AssertClose(computedWhole.Parameters.Select(v => (double)v).ToArray(), withWavefront.Parameters, 1e-6);
        FullBatchReference.AssertClose(unpieced.Parameters.Select(v => (double)v).ToArray(), withWavefront.Parameters, 1e-6);
        Assert.NotEqual(unpieced.Parameters, Enumerable.Repeat(0f, unpieced.Parameters.Count));
    }

    [Fact]
    public async Task Worker_processes_started_with_the_wavefront_train_the_model_of_whole_gradients()
    {
        var pieced = Mlp with { Transport = TransportChoice.Tcp, Steps = 3 };
        var log = new CapturedLog();

        var processes = await TrainingRun.RunAsync(pieced with { Overlap = ComputeOverlap.Wavefront, Processes = true }, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);
        var inProcess = await TrainingRun.RunAsync(pieced, NullTrainingProgress.Instance, Serilog.Log.Logger, CancellationToken.None);

        var started = log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Started {Role}", StringComparison.Ordinal) && CapturedLog.Property(e, "Role") is string role && role.StartsWith("worker", StringComparison.Ordinal)).ToList();
        Assert.Equal(Mlp.Workers, started.Count);
        Assert.All(started, e => Assert.Contains("--overlap wavefront", e.RenderMessage()));
        FullBatchReference.AssertClose(inProcess.Parameters.Select(v => (double)v).ToArray(), processes.Parameters, 1e-6);
    }

    [Fact]
    public async Task Where_the_wavefront_does_not_apply_the_workers_compute_whole_and_say_why()
    {
        var softmax = TransportEquivalenceTests.Settings with { Pieces = new PieceOptions(PieceFloats: 10), Overlap = ComputeOverlap.Wavefront, Steps = 3 };
        var log = new CapturedLog();

        var run = await TrainingRun.RunAsync(softmax, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);
        var plain = await TrainingRun.RunAsync(softmax with { Overlap = ComputeOverlap.None }, NullTrainingProgress.Instance, Serilog.Log.Logger, CancellationToken.None);

        var refusals = log.Events.Where(e => e.MessageTemplate.Text.Contains("despite --overlap wavefront", StringComparison.Ordinal)).ToList();
        Assert.Equal(softmax.Workers, refusals.Count);
        Assert.All(refusals, e => Assert.Contains("not computed in blocks", e.RenderMessage()));
        FullBatchReference.AssertClose(plain.Parameters.Select(v => (double)v).ToArray(), run.Parameters, 1e-6);   // sums in arrival order
    }
}
