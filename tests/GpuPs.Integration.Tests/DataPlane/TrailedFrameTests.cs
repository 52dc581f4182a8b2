using System.IO.Hashing;
using System.Runtime.InteropServices;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport.Tcp;
using Serilog.Events;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// Large frames carry their checksum in a trailer (<see cref="FrameFlags.TrailingChecksum"/>), so both ends hash and send
/// a payload piece by piece: such pushes and pulls round trip exactly, and a frame whose header, payload or trailer was
/// changed on the way, or that ends before its trailer, is refused and applies nothing, as a frame sealed in its header is.
/// </summary>
public class TrailedFrameTests
{
    internal const int Floats = 40_000;   // 160,000 bytes: above TrailedPayload.Threshold

    /// <summary>A large frame as <see cref="TrailedPayload"/> writes it (under <paramref name="checksum"/>), all its writes in one array.</summary>
    internal static byte[] Encode(FrameHeader header, byte[] payload, FrameChecksum checksum = FrameChecksum.Xxh3)
    {
        using var bytes = new MemoryStream();
        var scratch = new byte[FrameHeader.Size];
        TrailedPayload.WriteAsync(header, ReadOnlyMemory<byte>.Empty, payload, new XxHash3(), scratch, chunk =>
        {
            bytes.Write(chunk.Span);
            return ValueTask.CompletedTask;
        }, checksum).AsTask().GetAwaiter().GetResult();
        return bytes.ToArray();
    }

    [Fact]
    public async Task A_large_push_and_pull_go_with_a_trailer_and_a_changed_header_payload_or_trailer_is_refused()
    {
        var shard = new FakeShard(0, Floats);
        var auth = JobAuth.WithToken(JobToken.Generate());
        var log = new CapturedLog();
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default, log.Logger,
            CancellationToken.None);
        var token = auth.Token!.HeaderValue;
        var gradient = WireTestSupport.RandomFloats(new Random(3), Floats);
        var values = MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray();
        var push = FrameAnswers.PushFrame(new PushHeader(1, 0, 0, 7, 2.5), values.Length, TensorEncoding.Float32);
        var frame = Encode(push, values);
        Assert.Equal(FrameHeader.Size + values.Length + FrameHeader.TrailerBytes, frame.Length);
        Assert.True(FrameHeader.Read(frame).HasTrailer);

        await AssertRefusedAsync(Changed(frame, 8), "header fails its checksum");                                        // the step
        await AssertRefusedAsync(Changed(frame, FrameHeader.Size + 1234), "fails its checksum");                          // a value
        await AssertRefusedAsync(Changed(frame, frame.Length - 1), "the trailer says");                                   // the trailer
        using (var cut = await RawFrameClient.HelloAsync(host.DataPort, token))
            cut.SendRaw(frame[..^FrameHeader.TrailerBytes]);                                                                // then gone
        await TcpDataPlaneTests.WaitForAsync(() => log.Events.FirstOrDefault(e => e.Level == LogEventLevel.Warning && e.RenderMessage().Contains("checksum trailer")));
        Assert.Empty(shard.Pushes);

        using (var raw = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            raw.SendRaw(frame);
            Assert.Equal(FrameKind.PushReply, raw.Read()!.Value.Header.Kind);
        }
        var (header, applied) = Assert.Single(shard.Pushes);
        Assert.Equal((1, 0L, 7L), (header.WorkerId, header.Step, header.SampleCount));
        Assert.Equal(gradient, applied);

        // The client sends and reads trailed frames too: exact both ways.
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, TimeSpan.FromSeconds(20));
        Assert.True((await channel.PushAsync(new PushHeader(2, 0, 0, 1, 0), gradient, CancellationToken.None)).IsApplied);
        Assert.Equal(gradient, shard.Pushes.Last().Gradient);
        var pulled = new float[Floats];
        await channel.PullAsync(2, 0, pulled, CancellationToken.None);
        Assert.Equal(shard.Parameters, pulled);

        async Task AssertRefusedAsync(byte[] bytes, string message)
        {
            using var client = await RawFrameClient.HelloAsync(host.DataPort, token);
            client.SendRaw(bytes);
            client.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, message);
        }
    }

    private static byte[] Changed(byte[] frame, int at)
    {
        var copy = (byte[])frame.Clone();
        copy[at] ^= 0x04;
        return copy;
    }
}
