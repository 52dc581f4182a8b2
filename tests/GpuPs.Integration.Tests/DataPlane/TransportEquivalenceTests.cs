using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Integration.Tests.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The data plane changes how tensors travel, never what is trained: the same job over gRPC, over the framed TCP data
/// plane (<see cref="TransportChoice.Tcp"/> fails unless every tensor goes over TCP) and through shared memory
/// (<see cref="TransportChoice.Shm"/> fails unless every data-plane connection attached a region) ends with the same model — equal up
/// to the float32 order of a step's sums, which follows arrival order on either plane (1e-6) — and both equal full-batch
/// descent. BSP, and coded with real decode weights.
/// </summary>
public class TransportEquivalenceTests
{
    /// <summary>A small BSP job both planes run; the piece tests run it too.</summary>
    internal static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=603,features=16,classes=3,separation=2",
        Model = Kernels.ModelKind.Softmax,
        Workers = 5,
        Servers = 2,
        Steps = 8,
        BatchSize = 0,
        LearningRate = 0.5f,
        Seed = 5,
        Accelerator = AcceleratorChoice.Simd,
    };

    [Theory]
    [InlineData(SyncMode.Bsp, 0)]
    [InlineData(SyncMode.Coded, 2)]
    public async Task The_same_run_over_grpc_tcp_and_shared_memory_gives_the_same_model(SyncMode mode, int stragglers)
    {
        var job = Settings with { Mode = mode, Stragglers = stragglers, Code = mode == SyncMode.Coded ? "cyclic" : "auto" };
        var grpc = await TrainingRun.RunAsync(job with { Transport = TransportChoice.Grpc }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var tcp = await TrainingRun.RunAsync(job with { Transport = TransportChoice.Tcp }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);
        var shm = await TrainingRun.RunAsync(job with { Transport = TransportChoice.Shm }, NullTrainingProgress.Instance, Log.Logger, CancellationToken.None);

        Assert.Equal(job.Steps, grpc.Steps);
        Assert.Equal(job.Steps, tcp.Steps);
        Assert.Equal(job.Steps, shm.Steps);
        FullBatchReference.AssertClose(grpc.Parameters.Select(v => (double)v).ToArray(), tcp.Parameters, 1e-6);
        FullBatchReference.AssertClose(grpc.Parameters.Select(v => (double)v).ToArray(), shm.Parameters, 1e-6);
        FullBatchReference.AssertClose(FullBatchReference.Descend(job), tcp.Parameters, 1e-5);
        Assert.Contains("--transport tcp", tcp.Command);
        Assert.Contains("--transport shm", shm.Command);
    }
}
