using GpuPs.Core.Shards;
using GpuPs.Protocol.Frames;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// The reading half of one data-plane connection: frame headers come through a small buffer (a header that follows
/// another frame in the same segment costs no read of its own), payloads are read from the stream straight into their
/// destination in reads as large as the kernel has ready. Not thread-safe: one reader per connection, one read at a time.
/// </summary>
/// <remarks>
/// Why not Kestrel's pipe: its socket transport hands data over in 4 KiB blocks, so a 4 MiB push took ~1,000 reads, each a
/// copy out of the pipe and a continuation; reading into the push's own buffer takes a few dozen reads of up to the
/// socket's receive window and no copy (4 MiB push 1,422 → see docs/benchmarks.md "Own socket listener").
/// </remarks>
internal sealed class FrameReader(Stream stream)
{
    // Holds any header and what follows it in the same read; a 1 KiB push (1,080 bytes framed) fits whole, so small
    // pushes take one read. Larger payloads bypass it.
    private const int BufferBytes = 16 << 10;

    private readonly byte[] _buffer = new byte[BufferBytes];
    private int _start, _end;

    private int Buffered => _end - _start;

    /// <summary>
    /// The next frame's header; null when the peer closed the stream between frames.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest: the stream ended inside a header (a truncated frame).</exception>
    public async ValueTask<FrameHeader?> ReadHeaderAsync(CancellationToken ct)
    {
        while (Buffered < FrameHeader.Size)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, Buffered).CopyTo(_buffer);
                (_start, _end) = (0, Buffered);
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
            if (read == 0)
            {
                if (Buffered == 0) return null;
                throw ShardException.Invalid($"the connection closed after {Buffered} of a frame header's {FrameHeader.Size} bytes (a truncated frame)");
            }
            _end += read;
        }
        var header = FrameHeader.Read(_buffer.AsSpan(_start, FrameHeader.Size));
        _start += FrameHeader.Size;
        return header;
    }

    /// <summary>
    /// Reads some of a payload into <paramref name="destination"/>: what the buffer holds first, else one read of the stream
    /// straight into it. 0: the peer closed the stream.
    /// </summary>
    public ValueTask<int> ReadSomeAsync(Memory<byte> destination, CancellationToken ct)
    {
        if (Buffered == 0) return stream.ReadAsync(destination, ct);
        var take = Math.Min(Buffered, destination.Length);
        _buffer.AsSpan(_start, take).CopyTo(destination.Span);
        _start += take;
        return ValueTask.FromResult(take);
    }

    /// <summary>Reads past up to <paramref name="length"/> payload bytes without keeping them; 0: the peer closed the stream.</summary>
    public async ValueTask<int> SkipSomeAsync(int length, CancellationToken ct)
    {
        if (Buffered == 0)
        {
            _start = _end = 0;
            _end = await stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
        }
        var take = Math.Min(Buffered, length);
        _start += take;
        return take;
    }

    /// <summary>
    /// Waits until the peer sends something or closes the stream, without taking anything a later read wants: true when it
    /// closed. What it sent (the client's next frame, sent early) stays buffered for <see cref="ReadHeaderAsync"/>. Used
    /// while a pull waits for its step, when nothing else reads the connection, to see a client that gave up.
    /// </summary>
    public async Task<bool> WaitForDataOrCloseAsync(CancellationToken ct)
    {
        if (Buffered > 0) return false;
        // A zero-byte read completes when data arrives or the peer closes, and consumes nothing (sockets and SslStream).
        await stream.ReadAsync(Memory<byte>.Empty, ct).ConfigureAwait(false);
        _start = _end = 0;
        _end = await stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
        return _end == 0;
    }
}
