using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;

namespace GpuPs.Worker.Tests.Fakes;

/// <summary>The small job the worker's domain tests run, and its float64 full-batch reference.</summary>
public static class SmallJob
{
    /// <summary>Softmax 6 → 3: weight [0, 18), bias [18, 21).</summary>
    public const int Parameters = 21;

    /// <summary>
    /// 303 synthetic rows (the training set splits unequally over the workers, so a mean of per-worker means would
    /// differ), softmax 6 → 3, seed 5, a heartbeat timeout no test reaches unless it sets its own.
    /// </summary>
    public static TrainingJob Softmax(SyncMode mode, int workers, long steps) => new()
    {
        Dataset = "synthetic:rows=303,features=6,classes=3",
        Model = new ModelShape(Kernels.ModelKind.Softmax, 6, 3),
        Mode = SyncModes.Of(mode), Workers = workers, Steps = steps, Seed = 5, HeartbeatTimeoutMs = 60_000,
    };

    /// <summary>The cluster's parameters are those of the job's steps of full-batch descent at <paramref name="learningRate"/>, to 1e-5.</summary>
    public static void AssertFullBatchDescent(InProcessCluster cluster, float learningRate)
    {
        var data = cluster.Data();
        var reference = FullBatchDescent.Descend(data, new ModelShape(Kernels.ModelKind.Softmax, data.FeatureCount, data.ClassCount),
            cluster.Job.Seed, cluster.Job.Steps, learningRate);
        FullBatchDescent.AssertClose(reference, cluster.Parameters(), 1e-5);
    }

    /// <summary>1, 2, …, 21: a gradient whose every value says where it went.</summary>
    public static float[] Ramp() => Enumerable.Range(1, Parameters).Select(i => (float)i).ToArray();

    /// <summary>A registration request for a new worker, with a token of its own.</summary>
    public static RegisterRequest NewWorker() => new() { RequestedWorkerId = -1, ClientToken = Guid.NewGuid().ToString() };
}
