using System.Buffers;
using System.Runtime.InteropServices;

namespace GpuPs.Worker.Transport.Tcp;

/// <summary>
/// A float tensor's memory seen as bytes, so that a socket reads into and writes from it directly (no staging copy).
/// One instance per connection, pointed at each call's tensor with <see cref="View"/>; not thread-safe.
/// </summary>
internal sealed class FloatBytes : MemoryManager<byte>
{
    private Memory<float> _floats;

    /// <summary>The bytes of <paramref name="floats"/> (4 per value), valid until the next call.</summary>
    public Memory<byte> View(Memory<float> floats)
    {
        _floats = floats;
        return Memory;
    }

    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(_floats.Span);

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var floats = _floats.Pin();
        return new MemoryHandle((byte*)floats.Pointer + elementIndex, default, new PinOwner(floats));
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) => _floats = default;

    /// <summary>Keeps the float memory pinned until the byte handle is disposed.</summary>
    private sealed class PinOwner(MemoryHandle floats) : IPinnable
    {
        private MemoryHandle _floats = floats;
        public MemoryHandle Pin(int elementIndex) => throw new NotSupportedException();
        public void Unpin() => _floats.Dispose();
    }
}
