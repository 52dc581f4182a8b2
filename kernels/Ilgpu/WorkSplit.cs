namespace GpuPs.Kernels;

/// <summary>
/// How one ILGPU launch divides <see cref="Count"/> items among <see cref="Threads"/> logical threads; device code
/// loops <c>for (i = First(t), end = End(t), stride = Stride; i &lt; end; i += stride)</c> (bounds hoisted into locals:
/// the CPU accelerator runs this IL as is). Contiguous blocks (<see cref="Chunk"/> &gt; 0) suit the
/// ILGPU CPU accelerator, where each logical thread is an OS thread and a long sequential loop is cache-friendly;
/// grid-stride (<see cref="Chunk"/> = 0) suits GPUs, where neighbouring threads then read neighbouring memory.
/// Chosen by <see cref="LaunchPlan"/>; a plain value passed to kernels.
/// </summary>
internal readonly struct WorkSplit
{
    public WorkSplit(int count, int threads, int chunk)
    {
        Count = count;
        Threads = threads;
        Chunk = chunk;
    }

    /// <summary>Number of items.</summary>
    public int Count { get; }

    /// <summary>Number of logical threads to launch.</summary>
    public int Threads { get; }

    /// <summary>Items per thread in contiguous mode; 0 for grid-stride.</summary>
    public int Chunk { get; }

    public int First(int thread) => Chunk > 0 ? thread * Chunk : thread;

    public int End(int thread)
    {
        if (Chunk == 0) return Count;
        int end = (thread + 1) * Chunk;
        return end < Count ? end : Count;
    }

    public int Stride => Chunk > 0 ? 1 : Threads;
}
