using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// The one place that decides launch sizes for an accelerator. Measured on 2 cores, 1M-float axpy: TensorPrimitives
/// 0.5 ms; ILGPU CPU accelerator with one element per logical thread ~2 s (it emulates every GPU thread and does not
/// vectorize); one contiguous block per core 2.6 ms, against 3.1 ms with one block per emulated thread (4 on a
/// 2-core device built as in <see cref="Accelerators"/>), and 64-bit element indices (2.6 ms) rather than 32-bit ones
/// (4.4 ms), which ILGPU's CPU views widen on every access. So on the CPU accelerator we launch one thread per core over
/// contiguous blocks; on CUDA/OpenCL enough threads to fill the device, grid-stride. Thread-safe (immutable).
/// </summary>
internal sealed class LaunchPlan
{
    private readonly bool _contiguous;
    private readonly int _maxThreads;

    public LaunchPlan(Accelerator accelerator)
    {
        _contiguous = accelerator.AcceleratorType == AcceleratorType.CPU;
        _maxThreads = _contiguous ? Environment.ProcessorCount : Math.Max(1, accelerator.MaxNumThreads);
    }

    /// <summary>The split for <paramref name="count"/> items (count &gt; 0).</summary>
    public WorkSplit Split(int count)
    {
        int threads = Math.Min(count, _maxThreads);
        int chunk = _contiguous ? (count + threads - 1) / threads : 0;
        return new WorkSplit(count, threads, chunk);
    }
}
