using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Compression;

/// <summary>
/// Compressed pushes with error feedback, trained end to end on the embedded cluster over real loopback sockets (gRPC and
/// the TCP data plane): top-k and sign reach the float32 run's accuracy on digits, with the bytes their encodings promise.
/// </summary>
public class CompressedTrainingTests
{
    private static readonly TrainSettings Float32 = new()
    {
        Dataset = "digits", Workers = 4, Steps = 150, BatchSize = 32, Accelerator = AcceleratorChoice.Simd, Transport = TransportChoice.Grpc,
    };

    // One float32 run for every case (tests of a class run one after another).
    private static readonly Lazy<Task<TrainResult>> Exact = new(() => TrainingRun.RunAsync(Float32, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None));

    [Theory]
    [InlineData("topk", TransportChoice.Grpc)]
    [InlineData("topk", TransportChoice.Tcp)]
    [InlineData("sign", TransportChoice.Grpc)]
    [InlineData("sign", TransportChoice.Tcp)]
    public async Task Compressed_pushes_train_to_the_float32_accuracy_with_a_fraction_of_the_bytes(string compression, TransportChoice transport)
    {
        var exact = await Exact.Value;
        var compressed = await TrainingRun.RunAsync(Float32 with { Compression = compression, TopKRatio = 0.05, Transport = transport },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        long exactBytes = exact.WorkerReports.Sum(w => w.BytesPushed), bytes = compressed.WorkerReports.Sum(w => w.BytesPushed);
        // top-k 5 %: 8 bytes a kept value, 10 % of float32's; sign: 1.03 bits a value plus a scale per block (per shard slice).
        double ratio = (double)bytes / exactBytes;
        if (compression == "topk") Assert.InRange(ratio, 0.09, 0.11);
        else Assert.InRange(ratio, 1 / 32.0, 1 / 16.0);
        Assert.True(compressed.TestAccuracy >= exact.TestAccuracy - 0.02,
            $"test accuracy f32 {exact.TestAccuracy:F4}, {compression} {compressed.TestAccuracy:F4}");
        Assert.True(compressed.WorkerReports.All(w => w.CompressSeconds > 0));
        Assert.NotEqual(exact.Parameters, compressed.Parameters);
    }

    [Theory]
    [InlineData("topk", "none", TransportChoice.Grpc)]
    [InlineData("sign", "none", TransportChoice.Tcp)]
    [InlineData("topk", "topk", TransportChoice.Tcp)]
    public async Task Compressed_pulls_train_to_the_float32_accuracy_with_a_fraction_of_the_bytes(string pulls, string pushes, TransportChoice transport)
    {
        var exact = await Exact.Value;
        var compressed = await TrainingRun.RunAsync(Float32 with { PullCompression = pulls, Compression = pushes, TopKRatio = 0.05, FullPullEvery = 10, Transport = transport },
            NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        long exactBytes = exact.WorkerReports.Sum(w => w.BytesPulled), bytes = compressed.WorkerReports.Sum(w => w.BytesPulled);
        // One pull in 10 in full; top-k deltas carry 10 % of float32's bytes, sign ones 1/31.
        double ratio = (double)bytes / exactBytes;
        Assert.InRange(ratio, 0.1, pulls == "topk" ? 0.25 : 0.15);
        Assert.True(compressed.TestAccuracy >= exact.TestAccuracy - 0.02,
            $"test accuracy f32 {exact.TestAccuracy:F4}, pulls {pulls} and pushes {pushes}: {compressed.TestAccuracy:F4}");
    }

    [Fact]
    public async Task Compressed_pushes_are_refused_with_the_coded_mode_whose_decode_must_stay_exact()
    {
        var coded = Float32 with { Mode = GpuPs.Protocol.SyncMode.Coded, Stragglers = 1, Compression = "topk" };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => TrainingRun.RunAsync(coded, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None));
        Assert.Contains("would break the exact decode of the coded mode", e.Message);
        Assert.Contains("--pull-compression topk", e.Message);
    }
}
