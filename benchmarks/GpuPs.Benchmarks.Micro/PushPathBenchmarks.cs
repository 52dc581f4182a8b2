using BenchmarkDotNet.Attributes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using Serilog.Core;
using GpuPs.Core.Modes;

namespace GpuPs.Benchmarks.Micro;

/// <summary>
/// One BSP step on a shard of 1 M parameters: every worker's push is validated (finite check), summed, and the last one
/// applies the SGD update. Baseline: copying the same bytes once per push. Steady state must allocate nothing per push.
/// </summary>
[MemoryDiagnoser]
public class PushPathBenchmarks
{
    private const int Length = 1 << 20;
    private IComputeBackend _backend = null!;
    private ParameterShard _shard = null!;
    private float[][] _gradients = null!;
    private float[] _copy = null!;
    private long _step;

    [Params(4)]
    public int Workers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var job = new TrainingJob
        {
            Model = new ModelShape(Kernels.ModelKind.Logistic, Length - 1, 2), Mode = SyncModes.Of(SyncMode.Bsp),
            Workers = Workers, Steps = long.MaxValue, Seed = 1, Dataset = "synthetic", HeartbeatTimeoutMs = int.MaxValue,
        };
        var info = ShardLayout.Compute(Length, 1)[0];
        _backend = Accelerators.Create(AcceleratorChoice.Simd);
        _shard = new ParameterShard(new ShardOptions(job, info, new OptimizerSettings(OptimizerKind.Sgd, 1e-6f), new float[Length]), _backend, Logger.None);
        for (int w = 0; w < Workers; w++) _shard.Register(new RegisterRequest { RequestedWorkerId = w });
        var random = new Random(1);
        _gradients = Enumerable.Range(0, Workers).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        _copy = new float[Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _shard.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "copy each push once")]
    public void Copy()
    {
        for (int w = 0; w < Workers; w++) _gradients[w].CopyTo(_copy, 0);
    }

    [Benchmark(Description = "BSP step: push every worker's gradient")]
    public bool Step()
    {
        bool closed = false;
        for (int w = 0; w < Workers; w++)
            closed = _shard.Push(new PushHeader(w, _step, 0, SampleCount: 32, LossSum: 1), _gradients[w]).ClosedStep;
        _step++;
        return closed;
    }
}
