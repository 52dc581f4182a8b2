using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// A device buffer that grows to the largest length requested and is reused below it, so that per-call buffers
/// (sized by the batch) are allocated only when a larger batch arrives. Not thread-safe.
/// </summary>
internal sealed class DeviceArray<T> : IDisposable where T : unmanaged
{
    private readonly Accelerator _accelerator;
    private MemoryBuffer1D<T, Stride1D.Dense>? _buffer;

    public DeviceArray(Accelerator accelerator, int initialLength = 0)
    {
        _accelerator = accelerator;
        if (initialLength > 0) _buffer = accelerator.Allocate1D<T>(initialLength);
    }

    /// <summary>The first <paramref name="length"/> elements; contents are undefined after a grow.</summary>
    public ArrayView<T> View(int length)
    {
        if (_buffer is null || _buffer.Length < length)
        {
            _buffer?.Dispose();
            // ILGPU rejects empty allocations; one element keeps unused kernel arguments valid.
            _buffer = _accelerator.Allocate1D<T>(Math.Max(1, length));
        }
        return _buffer.View.SubView(0, length);
    }

    /// <summary>
    /// The first <paramref name="length"/> elements, like <see cref="View"/>, but a grow keeps the first
    /// <paramref name="keep"/> elements (a device-to-device copy into the new buffer).
    /// </summary>
    public ArrayView<T> ViewKeeping(int length, int keep)
    {
        if (_buffer is not null && _buffer.Length < length && keep > 0)
        {
            var grown = _accelerator.Allocate1D<T>(length);
            _buffer.View.SubView(0, keep).CopyTo(grown.View.SubView(0, keep));
            _accelerator.Synchronize();
            _buffer.Dispose();
            _buffer = grown;
        }
        return View(length);
    }

    /// <summary>Copies <paramref name="source"/> to the start of the buffer and returns that part.</summary>
    public ArrayView<T> Upload(ReadOnlySpan<T> source)
    {
        var view = View(source.Length);
        if (!source.IsEmpty) view.CopyFromCPU(source);
        return view;
    }

    public void Dispose() => _buffer?.Dispose();
}
