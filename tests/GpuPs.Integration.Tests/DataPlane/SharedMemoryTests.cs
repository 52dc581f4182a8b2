using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Protocol.SharedMemory;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;
using Serilog.Events;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The data plane between processes on one host, with payloads through a shared-memory region and headers over the TCP
/// connection: tensors round trip exactly; the region's file is created 0600 and gone once the client attached (or the
/// connection closed); a handshake out of turn or with the wrong nonce, and a payload said to be in memory the connection
/// never attached, are refused with nothing applied. A handshake before the job token and a peer that dies with its
/// doorbell (the header) half sent: <see cref="DataPlaneFaultTests"/>, over every transport.
/// </summary>
[SupportedOSPlatform("linux")]   // regions are files under /dev/shm
[Collection(SharedMemoryFilesCollection.Name)]
public class SharedMemoryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<GpuPsServerHost> StartAsync(IParameterShard shard, JobAuth auth, Serilog.ILogger? log = null) =>
        GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default, log ?? Serilog.Core.Logger.None,
            CancellationToken.None);

    internal static string[] Regions() => Directory.GetFiles(SharedRegion.Directory, $"{SharedRegion.FilePrefix}{Environment.ProcessId}-*");

    [Fact]
    public async Task Pushes_and_pulls_go_through_shared_memory_exactly_and_no_file_is_left()
    {
        var shard = new FakeShard(0, 40_000) { PullStep = 3 };
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await StartAsync(shard, auth);
        await using var client = new NegotiatedShardClient(host.Address.ToString(), auth, TransportChoice.Shm);
        await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);
        var gradient = WireTestSupport.RandomFloats(new Random(8), 40_000);
        var pulled = new float[40_000];

        // A push and a pull at once: two connections, each with its own region.
        var pulling = client.PullAsync(1, 3, pulled, CancellationToken.None);
        var outcome = await client.PushAsync(new PushHeader(1, 2, 0, 9, 1.5, CodeRow: 1), gradient, CancellationToken.None);
        var result = await pulling;
        var fused = await client.PushPullAsync(new PushHeader(1, 3, 0, 9, 1.5), gradient, 3, pulled, CancellationToken.None);

        Assert.StartsWith("shm://127.0.0.1:", client.DataPlane);
        Assert.True(outcome.IsApplied);
        Assert.Equal(2, shard.Pushes.Count);
        Assert.All(shard.Pushes, p => Assert.Equal(gradient, p.Gradient));
        Assert.Equal(1, shard.Pushes.First().Header.CodeRow);
        Assert.Equal(shard.Parameters, pulled);
        Assert.Equal((3L, 40_000), (result.Step, result.Length));
        Assert.NotNull(fused.Pull);
        Assert.Empty(Regions());   // unlinked once attached: nothing to leave behind
    }

    [Fact]
    public async Task A_hostile_handshake_or_a_payload_in_memory_never_attached_is_refused_and_nothing_applied()
    {
        var shard = new FakeShard(0, 100);
        var auth = JobAuth.WithToken(JobToken.Generate());
        var token = auth.Token!.HeaderValue;
        await using var host = await StartAsync(shard, auth);

        using (var outOfTurn = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            outOfTurn.Send(Stage(SharedMemoryStage.Attach), new byte[SharedRegion.NonceBytes]);
            outOfTurn.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "shared-memory Attach is out of turn");
        }
        using (var wrongNonce = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            wrongNonce.Send(Stage(SharedMemoryStage.Offer), []);
            var (region, path) = wrongNonce.Read()!.Value;
            Assert.Equal(SharedMemoryStage.Region, (SharedMemoryStage)region.Part);
            var file = Encoding.UTF8.GetString(path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            wrongNonce.Send(Stage(SharedMemoryStage.Attach), new byte[SharedRegion.NonceBytes]);
            wrongNonce.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "wrong nonce");
            await TcpDataPlaneTests.WaitForAsync(() => File.Exists(file) ? null : file);   // removed with the connection
        }
        using (var unattached = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            var push = FrameAnswers.PushFrame(new PushHeader(0, 0, 0, 1, 0), 400, TensorEncoding.Float32);
            push.Flags |= FrameFlags.SharedMemory;
            push.SealHeader(new System.IO.Hashing.XxHash3());
            unattached.Send(push, [], seal: false, setLength: false);
            unattached.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "no region attached");
        }

        Assert.Empty(shard.Pushes);
        Assert.Empty(Regions());
        // Still serving, shared memory included.
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout, SharedMemoryUse.Require);
        Assert.True((await channel.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None)).IsApplied);
        Assert.True(channel.SharedMemory);
        Assert.Single(shard.Pushes);
    }

    [Fact]
    public void Files_of_servers_that_are_gone_are_removed_and_those_of_live_ones_kept()
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var stale = Path.Combine(SharedRegion.Directory, $"{SharedRegion.FilePrefix}{exited.Id}-0-test");
        using var live = SharedRegion.Create(0, 64);
        File.WriteAllBytes(stale, [1]);

        Assert.True(SharedRegion.RemoveStale() >= 1);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live.Path));
    }

    [Fact]
    public void A_region_holds_its_memory_from_creation_so_a_full_tmpfs_fails_the_offer_instead_of_killing_a_process()
    {
        using var region = SharedRegion.Create(0, 1 << 20);

        // A sparse file's pages would be taken when first written through the mapping, and on a full tmpfs (Docker's
        // /dev/shm is 64 MiB) that write is a SIGBUS: with a 6 MiB /dev/shm a worker of a 4 MB shard died of it (exit 135).
        var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%b %B %s", region.Path!]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var fields = stat.StandardOutput.ReadToEnd().Split(' ').Select(long.Parse).ToArray();
        stat.WaitForExit();
        var (blocks, blockBytes, length) = (fields[0], fields[1], fields[2]);
        Assert.Equal(4096 + 2L * region.AreaBytes, length);
        Assert.True(blocks * blockBytes >= length, $"the region's file has {blocks * blockBytes} of its {length} bytes allocated");
    }

    internal static FrameHeader Stage(SharedMemoryStage stage)
    {
        var header = FrameHeader.Of(FrameKind.SharedMemory);
        header.Part = (int)stage;
        return header;
    }
}
