using System.Buffers;
using System.Runtime.InteropServices;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// A pushed frame's float32 values seen as <see cref="Memory{T}"/> of floats where they were read (the pooled byte
/// buffer), so that <see cref="IParameterShard.PushAsync"/> (a node aggregator answers later) takes them without a
/// copy. One instance per connection, pointed at each push with <see cref="View"/>; not thread-safe.
/// </summary>
internal sealed class BytesAsFloats : MemoryManager<float>
{
    private byte[] _bytes = [];
    private int _start, _count;

    /// <summary>The <paramref name="count"/> floats at byte <paramref name="start"/> of <paramref name="bytes"/>, valid until the next call.</summary>
    public Memory<float> View(byte[] bytes, int start, int count)
    {
        (_bytes, _start, _count) = (bytes, start, count);
        return Memory;
    }

    public override Span<float> GetSpan() => MemoryMarshal.Cast<byte, float>(_bytes.AsSpan(_start, _count * sizeof(float)));

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var handle = GCHandle.Alloc(_bytes, GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + _start + elementIndex * sizeof(float), handle, this);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) => (_bytes, _count) = ([], 0);
}
