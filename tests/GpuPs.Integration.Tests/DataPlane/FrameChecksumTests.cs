using System.Runtime.InteropServices;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;
using Serilog.Events;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// <c>--frame-checksum</c> over real loopback sockets: the handshake agrees on the server's policy (a client asking for less
/// is refused by name), large payloads then go without a trailer and unhashed both ways, a frame whose checksum flag
/// disagrees with its connection is refused and the connection closed with nothing applied, a corrupted payload is still
/// caught under xxh3, and a training run gives the same model either way.
/// </summary>
public class FrameChecksumTests
{
    private const int Floats = TrailedFrameTests.Floats;   // every push and pull a large frame
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<GpuPsServerHost> StartAsync(IParameterShard shard, JobAuth auth, FrameChecksum? policy, Serilog.ILogger? log = null) =>
        GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default with { FrameChecksum = policy },
            log ?? Serilog.Core.Logger.None, CancellationToken.None);

    /// <summary>A push frame of <paramref name="values"/> as <see cref="TrailedPayload"/> writes it under <paramref name="checksum"/>.</summary>
    private static byte[] Frame(byte[] values, FrameChecksum checksum) =>
        TrailedFrameTests.Encode(FrameAnswers.PushFrame(new PushHeader(1, 0, 0, 7, 2.5), values.Length, TensorEncoding.Float32), values, checksum);

    private static byte[] Values(out float[] gradient)
    {
        gradient = WireTestSupport.RandomFloats(new Random(3), Floats);
        return MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray();
    }

    [Fact]
    public async Task Under_none_large_payloads_go_unhashed_both_ways_and_a_frame_that_disagrees_with_its_connection_is_refused()
    {
        var shard = new FakeShard(0, Floats);
        var auth = JobAuth.WithToken(JobToken.Generate());
        var log = new CapturedLog();
        await using var host = await StartAsync(shard, auth, FrameChecksum.None, log.Logger);
        var token = auth.Token!.HeaderValue;
        var values = Values(out var gradient);
        var unchecked_ = Frame(values, FrameChecksum.None);
        Assert.Equal(FrameHeader.Size + values.Length, unchecked_.Length);   // no trailer
        Assert.True(FrameHeader.Read(unchecked_).IsUnchecked);

        // A client that asks for xxh3 gets it from a none server (more checking is always allowed), and then a frame
        // flagged unchecked is refused there: the connection closes and nothing is applied.
        using (var strict = await RawFrameClient.HelloAsync(host.DataPort, token, checksum: FrameChecksum.Xxh3))
        {
            strict.SendRaw(unchecked_);
            strict.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "unchecked payload, but this connection agreed to --frame-checksum xxh3");
        }
        // On a connection that agreed to none, a trailed frame disagrees as well.
        using (var loose = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            loose.SendRaw(Frame(values, FrameChecksum.Xxh3));
            loose.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "checksum trailer, but this connection agreed to --frame-checksum none");
        }
        Assert.Empty(shard.Pushes);

        // Agreed to none: the push is applied as sent, the pull comes back flagged unchecked with no trailer behind it
        // (the next frame on the stream is the next answer), and what it carries is the shard's parameters.
        using (var raw = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            raw.SendRaw(unchecked_);
            Assert.Equal(FrameKind.PushReply, raw.Read()!.Value.Header.Kind);
            for (var i = 0; i < 2; i++)
            {
                raw.Send(FrameHeader.Of(FrameKind.Pull), []);
                var (reply, payload) = raw.Read()!.Value;
                Assert.Equal((FrameKind.PullReply, true, false), (reply.Kind, reply.IsUnchecked, reply.HasTrailer));
                Assert.Equal(shard.Parameters, MemoryMarshal.Cast<byte, float>(payload).ToArray());
            }
        }
        var (header, applied) = Assert.Single(shard.Pushes);
        Assert.Equal((1, 0L, 7L), (header.WorkerId, header.Step, header.SampleCount));
        Assert.Equal(gradient, applied);

        // The worker's channel follows the server's policy: unhashed both ways, exact.
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        Assert.True((await channel.PushAsync(new PushHeader(2, 0, 0, 1, 0), gradient, CancellationToken.None)).IsApplied);
        Assert.Equal(FrameChecksum.None, channel.Checksum);
        Assert.Equal(gradient, shard.Pushes.Last().Gradient);
        var pulled = new float[Floats];
        await channel.PullAsync(2, 0, pulled, CancellationToken.None);
        Assert.Equal(shard.Parameters, pulled);
        Assert.Contains(log.Events, e => e.Level == LogEventLevel.Debug && Equals(CapturedLog.Property(e, "FrameChecksum"), "none"));
    }

    [Fact]
    public async Task A_client_asking_for_none_from_an_xxh3_server_is_refused_by_name_and_a_corrupted_payload_is_still_caught()
    {
        var shard = new FakeShard(0, Floats);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await StartAsync(shard, auth, policy: null);   // plaintext, auto: xxh3
        var values = Values(out var gradient);

        await using (var lax = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout, checksum: FrameChecksum.None))
        {
            var refused = await Assert.ThrowsAsync<ShardException>(() => lax.PushAsync(new PushHeader(1, 0, 0, 1, 0), gradient, CancellationToken.None));
            Assert.Equal(ShardErrorKind.InvalidRequest, refused.Kind);
            Assert.Contains("--frame-checksum xxh3, its policy", refused.Message);
            Assert.Contains("asked for --frame-checksum none", refused.Message);
        }
        // The same refusal on the wire: an Error frame instead of the Welcome, then the close.
        using (var raw = await RawFrameClient.ConnectAsync(host.DataPort))
        {
            var hello = FrameHeader.Of(FrameKind.Hello);
            hello.Part = (int)FrameChecksum.None;
            raw.Send(hello, System.Text.Encoding.UTF8.GetBytes(auth.Token!.HeaderValue));
            raw.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "asked for --frame-checksum none");
        }

        // Under xxh3 a value changed on the way fails the trailer's check; nothing is applied.
        var corrupted = Frame(values, FrameChecksum.Xxh3);
        corrupted[FrameHeader.Size + 1234] ^= 0x04;
        using (var raw = await RawFrameClient.HelloAsync(host.DataPort, auth.Token!.HeaderValue))
        {
            raw.SendRaw(corrupted);
            raw.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "fails its checksum");
        }
        Assert.Empty(shard.Pushes);

        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        Assert.True((await channel.PushAsync(new PushHeader(2, 0, 0, 1, 0), gradient, CancellationToken.None)).IsApplied);
        Assert.Equal(FrameChecksum.Xxh3, channel.Checksum);
        Assert.Equal(gradient, Assert.Single(shard.Pushes).Gradient);
    }

    /// <summary>
    /// The checksum changes what each side hashes, never what is trained: two workers (a sum of two is the same in either
    /// order, so the models are bit for bit equal) and one shard of 40,000 parameters, so every push and pull is a large
    /// frame; the none run's connections did agree to none.
    /// </summary>
    [Fact]
    public async Task The_same_run_with_xxh3_and_with_none_gives_the_same_model()
    {
        var job = TransportEquivalenceTests.Settings with
        {
            Dataset = "synthetic:rows=120,features=3999,classes=10,separation=2", Workers = 2, Servers = 1, Steps = 4, LearningRate = 0.1f,
            Transport = TransportChoice.Tcp,
        };
        var log = new CapturedLog();
        var xxh3 = await TrainingRun.RunAsync(job with { FrameChecksum = "xxh3" }, NullTrainingProgress.Instance, Serilog.Core.Logger.None, CancellationToken.None);
        var none = await TrainingRun.RunAsync(job with { FrameChecksum = "none" }, NullTrainingProgress.Instance, log.Logger, CancellationToken.None);

        Assert.Equal(40_000, none.Parameters.Count);
        Assert.Equal((job.Steps, job.Steps), (xxh3.Steps, none.Steps));
        Assert.Equal(xxh3.Parameters, none.Parameters);
        var agreed = log.Events.Where(e => e.MessageTemplate.Text.Contains("agreed to frame checksum")).Select(e => CapturedLog.Property(e, "FrameChecksum")).ToList();
        Assert.NotEmpty(agreed);
        Assert.All(agreed, value => Assert.Equal("none", value));
        Assert.Contains("--frame-checksum none", none.Command);
    }
}
