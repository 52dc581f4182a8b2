using BenchmarkDotNet.Attributes;
using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Tensors;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog.Core;

namespace GpuPs.Benchmarks.Micro;

/// <summary>
/// Closing a coded step of 1 M parameters: the decode Σ a_i c_i over the n − s responders, accumulated in float64 and
/// rounded once, then the update. Baseline: one float64 multiply-add of one coded vector (the decode's unit of work).
/// </summary>
[MemoryDiagnoser]
public class CodedDecodeBenchmarks
{
    private const int Length = 1 << 20, Workers = 8;
    private IComputeBackend _backend = null!;
    private ShardModel _model = null!;
    private CodedAggregator _aggregator = null!;
    private WorkerSlot[] _slots = null!;
    private float[] _coded = null!;
    private double[] _sum = null!;
    private long _step;

    [Params(1, 2, 3)]
    public int Stragglers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var code = GradientCodeFactory.Create("cyclic", Workers, Stragglers);
        _slots = Enumerable.Range(0, Workers).Select(i => new WorkerSlot(i) { Registered = true }).ToArray();
        _backend = Accelerators.Create(AcceleratorChoice.Simd);
        _model = new ShardModel(new float[Length], () => _backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Sgd, 1e-6f), Length), Logger.None);
        _aggregator = new CodedAggregator(_model, _slots, long.MaxValue, code, Logger.None);
        var random = new Random(2);
        _coded = Enumerable.Range(0, Length).Select(_ => (float)random.NextDouble()).ToArray();
        _sum = new double[Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "one float64 multiply-add")]
    public void MultiplyAdd() => ParallelTensor.MultiplyAddWidening(_sum, _coded, 0.5);

    [Benchmark(Description = "push n − s coded vectors, decode, update")]
    public bool CloseStep()
    {
        bool closed = false;
        // The last n − s workers respond: for a cyclic code every such set decodes with real (non 0/1) weights.
        for (int w = Stragglers; w < Workers && !closed; w++)
            closed = _aggregator.Accept(_slots[w], new PushHeader(w, _step, 0, 32, 1, CodeRow: w), _coded).ClosedStep;
        _step++;
        return closed;
    }
}
