using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using GpuPs.Core.Shards;
using GpuPs.Protocol.Frames;

namespace GpuPs.Protocol.SharedMemory;

/// <summary>
/// The memory one data-plane connection shares between a worker and a shard on the same host: a file under
/// <see cref="Directory"/> (created 0600 by the server, mapped by both sides, then unlinked once the client proved it
/// mapped it, so nothing is left behind however either side ends) holding a random nonce and one frame area per direction.
/// A frame flagged <see cref="FrameFlags.SharedMemory"/> leaves its payload in the sender's area and its header goes over the
/// connection, which is the doorbell: one request or answer at a time per direction, so an area is never written while its
/// reader still reads it.
/// <code>
///  0        16          4096                         4096 + area                   4096 + 2 area
///  | nonce  | reserved  | client → server area        | server → client area        |
///  |        |           | header room | payload …     | header room | payload …     |
/// </code>
/// Each area starts with <see cref="FrameHeader.Size"/> bytes of room for a header, so a frame can be built in place
/// (the payload then starts at the same offset as in a pooled frame buffer). Not thread-safe; one owner per side.
/// </summary>
public sealed unsafe class SharedRegion : IDisposable
{
    /// <summary>Where regions are created: tmpfs, so pages live in memory.</summary>
    public const string Directory = "/dev/shm";

    /// <summary>Every region's file name starts with this, then the creating process's id: <c>gpups-dp-PID-…</c>.</summary>
    public const string FilePrefix = "gpups-dp-";

    /// <summary>Bytes of the nonce at the region's start.</summary>
    public const int NonceBytes = 16;

    private const int AreasOffset = 4096;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _length;
    private readonly MappedMemory _inbound, _outbound;
    private string? _path;
    private int _disposed;

    private SharedRegion(string path, MemoryMappedFile file, int areaBytes, bool server)
    {
        (_path, _file, AreaBytes) = (path, file, areaBytes);
        _length = AreasOffset + 2L * areaBytes;
        _view = file.CreateViewAccessor(0, _length, MemoryMappedFileAccess.ReadWrite);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        var toServer = new MappedMemory(_base + AreasOffset, areaBytes);
        var toClient = new MappedMemory(_base + AreasOffset + areaBytes, areaBytes);
        (_inbound, _outbound) = server ? (toServer, toClient) : (toClient, toServer);
    }

    /// <summary>Whether this host can hold regions (a writable <see cref="Directory"/>).</summary>
    public static bool Available => OperatingSystem.IsLinux() && System.IO.Directory.Exists(Directory);

    /// <summary>Bytes of each direction's area: header room and the largest payload.</summary>
    public int AreaBytes { get; }

    /// <summary>Where the file is, until it is unlinked (<see cref="Unlink"/>); null after.</summary>
    public string? Path => _path;

    /// <summary>What this side reads: the payloads the peer left (header room first).</summary>
    public Memory<byte> Inbound => _inbound.Memory;

    /// <summary>What this side writes: its own frames' payloads (header room first).</summary>
    public Memory<byte> Outbound => _outbound.Memory;

    /// <summary>The nonce the creator wrote at the region's start.</summary>
    public ReadOnlySpan<byte> Nonce => new(_base, NonceBytes);

    /// <summary>
    /// The server's side: creates a region for payloads of up to <paramref name="maxPayload"/> bytes each way, as a new
    /// file readable and writable by this user alone, with a fresh random nonce. The file's memory is allocated here, whole:
    /// a sparse file would take its pages when first written through a mapping, and a write that finds the tmpfs full is a
    /// SIGBUS that kills the writer (a worker of a 4 MB shard with a 6 MiB /dev/shm died of it, exit 135; Docker gives
    /// containers 64 MiB, and any local user can fill /dev/shm). A full tmpfs is then an <see cref="IOException"/> here,
    /// and the connection goes on over TCP; the price is both areas' memory from the start, also for a connection that only
    /// pushes or only pulls.
    /// </summary>
    /// <exception cref="IOException">The file cannot be created or allocated (no tmpfs, out of space).</exception>
    /// <exception cref="PlatformNotSupportedException">On Windows (no /dev/shm).</exception>
    public static SharedRegion Create(int shard, int maxPayload)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("shared-memory regions are files under /dev/shm: Linux only");
        int area = checked(FrameHeader.Size + maxPayload + 63) & ~63;
        var path = System.IO.Path.Combine(Directory, $"{FilePrefix}{Environment.ProcessId}-{shard}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(8))}");
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            PreallocationSize = AreasOffset + 2L * area,   // fallocate: ENOSPC is an IOException now, not a SIGBUS later
        });
        try
        {
            stream.SetLength(AreasOffset + 2L * area);
            var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            var region = new SharedRegion(path, file, area, server: true);
            RandomNumberGenerator.Fill(new Span<byte>(region._base, NonceBytes));
            return region;
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// The client's side: maps the region the server named. The path must be a region file directly under
    /// <see cref="Directory"/> and the file exactly the size <paramref name="areaBytes"/> implies.
    /// </summary>
    /// <exception cref="ShardException">InvalidRequest: the path or size is not a region's; Unavailable: it cannot be opened
    /// (another host, another user).</exception>
    public static SharedRegion Open(string path, int areaBytes)
    {
        if (System.IO.Path.GetDirectoryName(path) != Directory || !System.IO.Path.GetFileName(path).StartsWith(FilePrefix, StringComparison.Ordinal)
            || path.Contains("..", StringComparison.Ordinal))
            throw ShardException.Invalid($"'{path}' is not a data-plane region (a {FilePrefix}* file directly under {Directory})");
        if (areaBytes < FrameHeader.Size || areaBytes % 64 != 0)
            throw ShardException.Invalid($"a region area of {areaBytes} bytes is not one a server makes");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShardException(ShardErrorKind.Unavailable, $"cannot open the shared-memory region {path}: {e.Message}", e);
        }
        try
        {
            if (stream.Length != AreasOffset + 2L * areaBytes)
                throw ShardException.Invalid($"the region {path} holds {stream.Length} bytes, not the {AreasOffset + 2L * areaBytes} its areas need");
            var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            return new SharedRegion(path, file, areaBytes, server: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Removes the file (both mappings stay valid until disposed); once, and quietly if it is gone.</summary>
    public void Unlink()
    {
        if (Interlocked.Exchange(ref _path, null) is { } path)
        {
            try { File.Delete(path); }
            catch (IOException) { }
        }
    }

    /// <summary>
    /// Removes region files under <see cref="Directory"/> whose creating process no longer runs (left by a server that died
    /// between creating a region and its client attaching); returns how many.
    /// </summary>
    public static int RemoveStale()
    {
        if (!Available) return 0;
        var removed = 0;
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, FilePrefix + "*"))
        {
            var rest = System.IO.Path.GetFileName(file)[FilePrefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || Running(pid)) continue;
            try
            {
                File.Delete(file);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static bool Running(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    /// <summary>Unmaps the region and removes its file if it is still there.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Unlink();
        if (_view.SafeMemoryMappedViewHandle is { IsClosed: false } handle) handle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>Part of the mapping as <see cref="Memory{T}"/>; valid while the region is.</summary>
    private sealed class MappedMemory(byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }
}
