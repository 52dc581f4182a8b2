using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Protocol.SharedMemory;
using GpuPs.Tests.Shared;
using Serilog.Events;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// Faults every data-plane transport must meet alike, each scenario one theory over plain TCP, TLS and shared memory
/// (<see cref="DataPlaneTransport"/>): a connection without the job token is refused before the shard sees anything; a
/// peer that dies mid-frame is reported, nothing of its frame is applied, and the server keeps serving the others.
/// </summary>
[SupportedOSPlatform("linux")]   // the shared-memory case: regions are files under /dev/shm
[Collection(SharedMemoryFilesCollection.Name)]
public class DataPlaneFaultTests
{
    [Theory]
    [MemberData(nameof(DataPlaneTransport.Names), MemberType = typeof(DataPlaneTransport))]
    public async Task Connections_without_the_job_token_are_refused_before_the_shard_sees_anything(string name)
    {
        using var transport = new DataPlaneTransport(name);
        var shard = new FakeShard(0, 100);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await transport.StartAsync(shard, auth);

        using (var wrongToken = await transport.ConnectAsync(host.DataPort))
        {
            wrongToken.Send(FrameHeader.Of(FrameKind.Hello), Encoding.UTF8.GetBytes(JobToken.Generate().HeaderValue));
            wrongToken.AssertRefusedAndClosed(ShardErrorKind.Unauthenticated, "the connection carries no valid job token");
        }
        using (var noHello = await transport.ConnectAsync(host.DataPort))
        {
            // A push before the Hello, or over shared memory the region's offer.
            if (transport.SharedMemory) noHello.Send(SharedMemoryTests.Stage(SharedMemoryStage.Offer), []);
            else noHello.Send(FrameAnswers.PushFrame(new PushHeader(0, 0, 0, 1, 0), 400, TensorEncoding.Float32), new byte[400]);
            noHello.AssertRefusedAndClosed(ShardErrorKind.Unauthenticated, "the first frame of a data-plane connection must be Hello");
        }
        await using var impostor = transport.Channel(host.DataPort, JobAuth.WithToken(JobToken.Generate()));
        var e = await Assert.ThrowsAsync<ShardException>(() => impostor.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None));
        Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);
        await using var anonymous = transport.Channel(host.DataPort, JobAuth.Insecure);
        e = await Assert.ThrowsAsync<ShardException>(() => anonymous.PullAsync(0, 0, new float[100], CancellationToken.None));
        Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);

        Assert.Equal(0, shard.Calls);
        Assert.Empty(shard.Pushes);
    }

    [Theory]
    [MemberData(nameof(DataPlaneTransport.Names), MemberType = typeof(DataPlaneTransport))]
    public async Task A_peer_dying_mid_frame_is_reported_nothing_of_it_applied_and_the_server_keeps_serving_the_others(string name)
    {
        using var transport = new DataPlaneTransport(name);
        var shard = new FakeShard(0, 1000);
        var auth = JobAuth.WithToken(JobToken.Generate());
        var token = auth.Token!.HeaderValue;
        var log = new CapturedLog();
        await using var host = await transport.StartAsync(shard, auth, log.Logger);
        await using var survivor = transport.Channel(host.DataPort, auth);
        Assert.True((await survivor.PushAsync(new PushHeader(1, 0, 0, 1, 0), new float[1000], CancellationToken.None)).IsApplied);

        using (var dying = await transport.HelloAsync(host.DataPort, token))
        {
            var push = FrameAnswers.PushFrame(new PushHeader(3, 41, 0, 1, 0), 4000, TensorEncoding.Float32);
            if (transport.SharedMemory) RingHalfTheDoorbell(dying, push);
            else dying.Send(push, new byte[4000], sendBytes: 1500);   // then the process dies
        }
        if (transport.SharedMemory)
        {
            // The doorbell is the commit: a header cut short is a truncated frame, refused, and the payload in memory is never read.
            await TcpDataPlaneTests.WaitForAsync(() => log.Events.FirstOrDefault(e => e.Level >= LogEventLevel.Warning && e.RenderMessage().Contains("truncated frame")));
        }
        else
        {
            var lost = await TcpDataPlaneTests.WaitForAsync(() => log.Events.FirstOrDefault(e => e.RenderMessage().Contains("was lost mid-frame")));
            Assert.Equal(LogEventLevel.Warning, lost.Level);
            Assert.True(3.Equals(CapturedLog.Property(lost, "WorkerId")), lost.RenderMessage());
            Assert.Equal(41L, CapturedLog.Property(lost, "Step"));
            Assert.Equal(0, CapturedLog.Property(lost, "Shard"));
            Assert.True(lost.RenderMessage().Contains("after 1500 of the frame's 4000 payload bytes"), lost.RenderMessage());
        }
        using (var torn = await transport.HelloAsync(host.DataPort, token))
            torn.SendRaw(new byte[20]);   // a third of a header, then gone: refused, nothing applied

        Assert.Single(shard.Pushes);   // only the survivor's
        Assert.True((await survivor.PushAsync(new PushHeader(1, 1, 0, 1, 0), new float[1000], CancellationToken.None)).IsApplied);
        var pulled = new float[1000];
        await survivor.PullAsync(1, 0, pulled, CancellationToken.None);
        Assert.Equal(shard.Parameters, pulled);
        Assert.Equal(2, shard.Pushes.Count);
        Assert.Equal(transport.SharedMemory, survivor.SharedMemory);
        if (transport.SharedMemory) Assert.Empty(SharedMemoryTests.Regions());
    }

    /// <summary>Attaches a region over <paramref name="client"/>, leaves <paramref name="push"/>'s values in it and sends 30 of its header's bytes.</summary>
    private static void RingHalfTheDoorbell(RawFrameClient client, FrameHeader push)
    {
        client.Send(SharedMemoryTests.Stage(SharedMemoryStage.Offer), []);
        var (offer, path) = client.Read()!.Value;
        using var region = SharedRegion.Open(Encoding.UTF8.GetString(path), (int)offer.Count);
        client.Send(SharedMemoryTests.Stage(SharedMemoryStage.Attach), region.Nonce.ToArray());
        Assert.Equal(SharedMemoryStage.Attached, (SharedMemoryStage)client.Read()!.Value.Header.Part);
        MemoryMarshal.AsBytes(new float[push.Length / sizeof(float)].AsSpan()).CopyTo(region.Outbound.Span[FrameHeader.Size..]);
        push.Flags |= FrameFlags.SharedMemory;
        push.SealHeader(new System.IO.Hashing.XxHash3());
        var bytes = new byte[FrameHeader.Size];
        push.WriteTo(bytes);
        client.SendRaw(bytes[..30]);
    }
}
