using BenchmarkDotNet.Attributes;
using GpuPs.Kernels;

namespace GpuPs.Benchmarks.Micro;

/// <summary>
/// A worker's coded step on the compute device: load the parameters once, add the weighted gradients of 4 partitions
/// (s = 3) of 256 rows each into the device accumulator, read the coded vector back once. Softmax on digits-sized data
/// (64 features, 10 classes). Baseline: the SIMD backend; the ILGPU CPU accelerator is the CI stand-in for CUDA (it
/// emulates GPU threads and is expected to be much slower).
/// </summary>
[MemoryDiagnoser]
public class GradientStepBenchmarks
{
    private const int Features = 64, Classes = 10, Partitions = 4, RowsPerPartition = 256;
    private IComputeBackend _backend = null!;
    private IGradientKernel _kernel = null!;
    private float[] _parameters = null!, _gradient = null!;

    [Params(AcceleratorChoice.Simd, AcceleratorChoice.Cpu)]
    public AcceleratorChoice Backend { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backend = Accelerators.Create(Backend);
        var shape = new ModelShape(ModelKind.Softmax, Features, Classes);
        _kernel = _backend.CreateGradientKernel(shape);
        var random = new Random(3);
        int rows = Partitions * RowsPerPartition;
        _kernel.SetData(Enumerable.Range(0, rows * Features).Select(_ => (float)random.NextDouble()).ToArray(),
            Enumerable.Range(0, rows).Select(i => i % Classes).ToArray());
        _parameters = ModelInitializer.Initialize(shape, seed: 1);
        _gradient = new float[shape.ParameterCount];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _kernel.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Description = "coded step: load, 4 weighted partitions, read")]
    public double CodedStep()
    {
        _kernel.LoadParameters(_parameters);
        double loss = 0;
        for (int h = 0; h < Partitions; h++) loss += _kernel.AddGradient(h * RowsPerPartition, RowsPerPartition, scale: 0.5f + h);
        _kernel.ReadGradient(_gradient);
        return loss;
    }
}
