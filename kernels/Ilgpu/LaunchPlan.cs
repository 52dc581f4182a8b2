using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// The one place that decides launch sizes for an accelerator. Measured on 2 cores, 1M-float axpy: TensorPrimitives
/// 0.36 ms; ILGPU CPU accelerator with one element per logical thread ~2 s (it emulates every GPU thread and does not
/// vectorize); one contiguous block per logical thread, about one thread per core, 1.4 ms (4–10 ms on the same
/// 2 cores under a load average of ~10, where 1, 2, 4 and 8 threads were within noise). So on the CPU
/// accelerator we launch <see cref="Accelerator.MaxNumThreads"/> threads (the device is built with a few threads per
/// core, see <see cref="Accelerators"/>) over contiguous blocks; on CUDA/OpenCL enough threads to fill the device,
/// grid-stride. Thread-safe (immutable).
/// </summary>
internal sealed class LaunchPlan
{
    private readonly bool _contiguous;
    private readonly int _maxThreads;

    public LaunchPlan(Accelerator accelerator)
    {
        _contiguous = accelerator.AcceleratorType == AcceleratorType.CPU;
        _maxThreads = Math.Max(1, accelerator.MaxNumThreads);
    }

    /// <summary>The split for <paramref name="count"/> items (count &gt; 0).</summary>
    public WorkSplit Split(int count)
    {
        int threads = Math.Min(count, _maxThreads);
        int chunk = _contiguous ? (count + threads - 1) / threads : 0;
        return new WorkSplit(count, threads, chunk);
    }
}
