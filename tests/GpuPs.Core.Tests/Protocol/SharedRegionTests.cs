using System.Diagnostics;
using GpuPs.Core.Shards;
using GpuPs.Protocol.Frames;
using GpuPs.Protocol.SharedMemory;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// The shared-memory region of a data-plane connection, both sides in this process: the server's file (0600, named for
/// its process and shard), the client mapping the same bytes with each side's outbound area the other's inbound, the file
/// gone once unlinked while the mappings stay, and the client's refusals of anything that is not a server's region.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // SharedRegion refuses Windows; file modes are Unix-only
public class SharedRegionTests
{
    [Fact]
    public void The_client_maps_the_server_region_and_each_side_reads_what_the_other_wrote()
    {
        using var server = SharedRegion.Create(shard: 3, maxPayload: 1000);
        var path = server.Path!;

        Assert.Equal(SharedRegion.Directory, Path.GetDirectoryName(path));
        Assert.StartsWith($"{SharedRegion.FilePrefix}{Environment.ProcessId}-3-", Path.GetFileName(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(1088, server.AreaBytes);                                   // header room and payload, to 64 bytes
        Assert.Equal(4096 + 2 * 1088, new FileInfo(path).Length);
        Assert.Contains(server.Nonce.ToArray(), b => b != 0);

        using var client = SharedRegion.Open(path, server.AreaBytes);
        Assert.Equal(server.Nonce.ToArray(), client.Nonce.ToArray());
        Assert.Equal(server.AreaBytes, client.Inbound.Length);
        "to the shard"u8.CopyTo(client.Outbound.Span[FrameHeader.Size..]);
        "to the worker"u8.CopyTo(server.Outbound.Span[FrameHeader.Size..]);
        Assert.Equal("to the shard"u8.ToArray(), server.Inbound.Span.Slice(FrameHeader.Size, 12).ToArray());
        Assert.Equal("to the worker"u8.ToArray(), client.Inbound.Span.Slice(FrameHeader.Size, 13).ToArray());
        server.Outbound.Span[^1] = 0x5A;                                         // the areas' last bytes stay apart
        client.Outbound.Span[^1] = 0xA5;
        Assert.Equal((0xA5, 0x5A), (server.Inbound.Span[^1], client.Inbound.Span[^1]));

        server.Unlink();
        Assert.False(File.Exists(path));
        Assert.Null(server.Path);
        "still mapped"u8.CopyTo(client.Outbound.Span);
        Assert.Equal("still mapped"u8.ToArray(), server.Inbound.Span[..12].ToArray());
        server.Unlink();                                                         // once, and quietly
    }

    [Fact]
    public void Disposing_a_side_removes_the_file_if_it_is_still_there()
    {
        var region = SharedRegion.Create(shard: 0, maxPayload: 64);
        var path = region.Path!;
        region.Dispose();
        region.Dispose();

        Assert.False(File.Exists(path));
    }

    [Fact]
    public void The_client_refuses_paths_sizes_and_files_that_are_not_a_server_region()
    {
        using var server = SharedRegion.Create(shard: 1, maxPayload: 256);
        var path = server.Path!;
        var name = Path.GetFileName(path);

        foreach (var other in new[] { Path.Combine("/tmp", name), Path.Combine(SharedRegion.Directory, "x" + name), $"{SharedRegion.Directory}/{SharedRegion.FilePrefix}..", Path.Combine(SharedRegion.Directory, "sub", name) })
            AssertInvalid("is not a data-plane region", () => SharedRegion.Open(other, server.AreaBytes));
        AssertInvalid("area of 32 bytes is not one a server makes", () => SharedRegion.Open(path, 32));
        AssertInvalid($"area of {server.AreaBytes + 1} bytes", () => SharedRegion.Open(path, server.AreaBytes + 1));
        AssertInvalid($"not the {4096 + 2 * (server.AreaBytes + 64)} its areas need", () => SharedRegion.Open(path, server.AreaBytes + 64));
        using (SharedRegion.Open(path, server.AreaBytes)) { }                    // the right size maps; a minimal area is allowed
        var missing = Assert.Throws<ShardException>(() => SharedRegion.Open(path + "-gone", server.AreaBytes));
        Assert.Equal(ShardErrorKind.Unavailable, missing.Kind);
        Assert.Contains("cannot open the shared-memory region", missing.Message);
    }

    [Fact]
    public void Stale_regions_of_processes_that_ended_are_removed_and_live_ones_kept()
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var stale = Path.Combine(SharedRegion.Directory, $"{SharedRegion.FilePrefix}{exited.Id}-0-test");
        var unparsable = Path.Combine(SharedRegion.Directory, $"{SharedRegion.FilePrefix}x{exited.Id}-0-test");
        File.WriteAllBytes(stale, [1]);
        File.WriteAllBytes(unparsable, [1]);
        using var live = SharedRegion.Create(0, 64);
        try
        {
            Assert.True(SharedRegion.RemoveStale() >= 1);

            Assert.False(File.Exists(stale));
            Assert.True(File.Exists(live.Path));
            Assert.True(File.Exists(unparsable));   // not a region name: left alone
        }
        finally
        {
            File.Delete(stale);
            File.Delete(unparsable);
        }
    }

    private static void AssertInvalid(string message, Action open)
    {
        var e = Assert.Throws<ShardException>(open);
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains(message, e.Message);
    }
}
