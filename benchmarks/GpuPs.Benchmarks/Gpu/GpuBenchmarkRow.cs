namespace GpuPs.Benchmarks.Gpu;

/// <summary>
/// One measurement of <see cref="GpuBenchmark"/>: wall times of the synchronized repetitions, the throughput (GB/s
/// counting bytes read and written, or TFLOP/s of the matrix products), and its ratio to the baseline named in
/// <see cref="Baseline"/> (the device copy for memory-bound kernels, PyTorch for the gradient steps; above 1 is faster).
/// </summary>
public sealed record GpuBenchmarkRow(string What, string Device, string Products, double MeanMs, double P50Ms, double P99Ms,
    double GbPerSecond, double TflopPerSecond, string Baseline, double ShareOfBaseline);
