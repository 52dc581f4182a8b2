using System.Text;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Server;
using GpuPs.Server.Tests;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;
using Serilog.Events;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Integration.Tests.DataPlane;

/// <summary>
/// The framed TCP data plane over real loopback sockets: tensors round trip exactly through <see cref="TcpTensorChannel"/>;
/// corrupted, truncated and oversized frames are refused with a clear error, the connection is closed and nothing reaches
/// the shard; and the shard's answers arrive as the same <see cref="PushOutcome"/>s and <see cref="ShardException"/>s gRPC
/// gives. Connections without the token and peers dying mid-frame: <see cref="DataPlaneFaultTests"/>, over every transport.
/// </summary>
public class TcpDataPlaneTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Task<GpuPsServerHost> StartAsync(IParameterShard shard, JobAuth auth, Serilog.ILogger? log = null, ServerLimits? limits = null) =>
        GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, limits ?? ServerLimits.Default, log ?? Serilog.Core.Logger.None,
            CancellationToken.None);

    [Fact]
    public async Task Pushes_and_pulls_round_trip_exactly_with_their_headers()
    {
        var shard = new FakeShard(1) { PullStep = 7, Finished = true };
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await StartAsync(shard, auth);
        Assert.True(host.DataPort > 0);
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 1, auth, Timeout);
        var gradient = RandomFloats(new Random(5), shard.Info.Length is var n ? (int)n : 0);

        var push = new PushHeader(2, 6, 1, SampleCount: 360, LossSum: 12.5, CodeRow: 2);
        var destination = new float[gradient.Length];
        // A pull and a push at once take separate connections.
        var pulling = channel.PullAsync(2, 6, destination, CancellationToken.None);
        var outcome = await channel.PushAsync(push, gradient, CancellationToken.None);
        var pulled = await pulling;

        Assert.Equal(PushOutcome.Applied(7, closedStep: true, jobFinished: false), outcome);
        var (header, values) = Assert.Single(shard.Pushes);
        Assert.Equal(push, header);
        Assert.Equal(gradient, values);
        Assert.Equal(shard.Parameters, destination);
        Assert.Equal(new PullResult(7, 1, FakeShard.OffsetOf(1), gradient.Length, true), pulled);
        Assert.Equal((2, 6L), shard.LastWait);

        await channel.PushAsync(push with { Step = 7, CodeRow = null, Partition = 3 }, gradient, CancellationToken.None, encoding: TensorEncoding.BFloat16);
        var (bf16Header, bf16Values) = shard.Pushes.Last();
        Assert.Equal(3, bf16Header.Partition);
        Assert.Equal(gradient.Select(BFloat16.Round), bf16Values);
    }

    [Fact]
    public async Task Registration_advertises_the_data_plane_and_the_worker_negotiates_it()
    {
        var shard = new FakeShard(0, 10);
        var auth = JobAuth.Insecure;
        await using var host = await StartAsync(shard, auth);
        await using var gprcOnly = await GpuPsServerHost.StartAsync(new FakeShard(0, 10), "http://127.0.0.1:0", auth, Serilog.Core.Logger.None, CancellationToken.None);
        var request = new RegisterRequest { RequestedWorkerId = -1 };

        await using var auto = new NegotiatedShardClient(host.Address.ToString(), auth, TransportChoice.Auto);
        var reply = await auto.RegisterAsync(request, CancellationToken.None);
        Assert.Equal(host.DataPort, reply.DataPort);
        Assert.Equal("127.0.0.1", reply.DataHost);   // bound to one address: advertised (a wildcard is left empty)
        Assert.Equal($"tcp://127.0.0.1:{host.DataPort}", auto.DataPlane);
        var pulled = new float[10];
        await auto.PullAsync(0, 0, pulled, CancellationToken.None);
        Assert.Equal(shard.Parameters, pulled);

        await using var grpc = new NegotiatedShardClient(host.Address.ToString(), auth, TransportChoice.Grpc);
        await grpc.RegisterAsync(request, CancellationToken.None);
        Assert.Equal(host.Address.ToString(), grpc.DataPlane);

        await using var fallback = new NegotiatedShardClient(gprcOnly.Address.ToString(), auth, TransportChoice.Auto);
        Assert.Equal(0, (await fallback.RegisterAsync(request, CancellationToken.None)).DataPort);
        Assert.Equal(gprcOnly.Address.ToString(), fallback.DataPlane);

        await using var tcpOnly = new NegotiatedShardClient(gprcOnly.Address.ToString(), auth, TransportChoice.Tcp);
        var e = await Assert.ThrowsAsync<ShardException>(() => tcpOnly.RegisterAsync(request, CancellationToken.None));
        Assert.Contains("offers no TCP data plane", e.Message);
    }

    [Fact]
    public async Task Corrupted_oversized_and_misdirected_frames_are_refused_the_connection_closed_and_nothing_applied()
    {
        var shard = new FakeShard(0, 100);
        var auth = JobAuth.WithToken(JobToken.Generate());
        var log = new CapturedLog();
        await using var host = await StartAsync(shard, auth, log.Logger);
        var token = auth.Token!.HeaderValue;
        var values = new byte[400];
        new Random(1).NextBytes(values);
        values.AsSpan().Fill(0x3f);
        var push = FrameAnswers.PushFrame(new PushHeader(0, 0, 0, 1, 0), values.Length, TensorEncoding.Float32);

        using (var corrupted = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            var sealedFrame = push;
            sealedFrame.Seal(new System.IO.Hashing.XxHash3(), values);
            var flipped = (byte[])values.Clone();
            flipped[123] ^= 0x10;
            corrupted.Send(sealedFrame, flipped, seal: false);
            corrupted.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "fails its checksum");
        }
        using (var oversized = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            // Refused on the header alone: the server does not wait for 401 bytes it will never take.
            oversized.Send(push with { Length = 401 }, [], setLength: false);
            oversized.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "Push frame of 401 payload bytes is refused: the limit for it is 400 bytes");
        }
        using (var garbage = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            garbage.SendRaw(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n".PadRight(FrameHeader.Size)));
            garbage.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "not a GpuPs data-plane frame");
        }
        using (var misdirected = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            misdirected.Send(FrameAnswers.PushFrame(new PushHeader(0, 0, Shard: 2, 1, 0), values.Length, TensorEncoding.Float32), values);
            misdirected.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "push for shard 2 sent to shard 0");
        }
        using (var serverFrame = await RawFrameClient.HelloAsync(host.DataPort, token))
        {
            serverFrame.Send(FrameHeader.Of(FrameKind.PullReply), []);
            serverFrame.AssertRefusedAndClosed(ShardErrorKind.InvalidRequest, "PullReply frames go from server to client");
        }

        Assert.Empty(shard.Pushes);
        Assert.Equal(0, shard.Calls);
        Assert.Contains(log.Events, e => e.Level == LogEventLevel.Warning && e.RenderMessage().Contains("fails its checksum"));
        // Still serving: a well-formed push goes through.
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        Assert.True((await channel.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[100], CancellationToken.None)).IsApplied);
        Assert.Single(shard.Pushes);
    }

    [Fact]
    public async Task Pushes_beyond_the_in_flight_memory_budget_are_answered_busy_and_the_connection_stays_in_step()
    {
        var shard = new FakeShard(0);   // 400,012 bytes a push: two fit in 1 MiB
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await StartAsync(shard, auth, limits: new ServerLimits { MaxMessageBytes = 64 << 10, MaxInflightPushBytes = 1 << 20 });
        await using var status = new GrpcShardClient(host.Address.ToString(), auth);
        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        var gradient = new float[FakeShard.DefaultLength];
        var push = FrameAnswers.PushFrame(new PushHeader(0, 0, 0, 1, 0), gradient.Length * sizeof(float), TensorEncoding.Float32);
        var stalled = new List<RawFrameClient>();
        for (int i = 1; i <= 2; i++)
        {
            var client = await RawFrameClient.HelloAsync(host.DataPort, auth.Token!.HeaderValue);
            client.Send(push, new byte[push.Length], sendBytes: 1000);   // holds its share while the rest never comes
            stalled.Add(client);
            await InflightPushBytes.ReachAsync(status, i * (long)push.Length);
        }

        var busy = await Assert.ThrowsAsync<ShardException>(() => channel.PushAsync(new PushHeader(1, 0, 0, 1, 0), gradient, CancellationToken.None));
        Assert.Equal(ShardErrorKind.Unavailable, busy.Kind);   // transient: a worker retries it
        Assert.Contains("server busy", busy.Message);
        Assert.Equal(1, (await status.StatusAsync(CancellationToken.None)).PushesRefusedBusy);

        foreach (var client in stalled) client.Dispose();   // dying mid-frame gives the shares back
        await InflightPushBytes.ReachAsync(status, 0);
        Assert.True((await channel.PushAsync(new PushHeader(1, 0, 0, 1, 0), gradient, CancellationToken.None)).IsApplied);
        Assert.Single(shard.Pushes);
    }

    [Fact]
    public async Task The_shard_answers_arrive_as_over_grpc()
    {
        var auth = JobAuth.WithToken(JobToken.Generate());
        var job = ShardFixture.Job(SyncMode.Bsp, workers: 2, steps: 1);
        using var grpcShard = ShardFixture.Create(job);
        using var tcpShard = ShardFixture.Create(job);
        await using var grpcHost = await StartAsync(grpcShard, auth);
        await using var tcpHost = await StartAsync(tcpShard, auth);
        await using var grpc = new GrpcShardClient(grpcHost.Address.ToString(), auth);
        await using var tcp = new TcpTensorChannel("127.0.0.1", tcpHost.DataPort, 0, auth, Timeout);
        ShardFixture.RegisterAll(grpcShard, 1);
        ShardFixture.RegisterAll(tcpShard, 1);

        async Task<object> Answer(ITensorChannel channel, PushHeader header, float[] gradient)
        {
            try { return await channel.PushAsync(header, gradient, CancellationToken.None); }
            catch (ShardException e) { return e.Kind; }   // gRPC's edge words a wrong length its own way
        }
        var good = ShardFixture.Filled(1f);
        (PushHeader, float[])[] pushes =
        [
            (new PushHeader(0, 0, 0, 1, 0), good),                              // applied, step stays open (worker 1 missing)
            (new PushHeader(0, 0, 0, 1, 0), good),                              // duplicate
            (new PushHeader(0, 0, 0, 1, 0), new float[3]),                      // wrong length
            (new PushHeader(0, 0, 0, 1, 0), ShardFixture.Filled(float.NaN)),    // NaN
            (new PushHeader(1, 0, 0, 1, 0), good),                              // unknown worker
            (new PushHeader(0, 5, 0, 1, 0), good),                              // a step not open yet
        ];
        foreach (var (header, gradient) in pushes)
            Assert.Equal(await Answer(grpc, header, gradient), await Answer(tcp, header, gradient));
        Assert.Equal(ShardFixture.Parameters(grpcShard), ShardFixture.Parameters(tcpShard));

        var timeout = await Assert.ThrowsAsync<ShardException>(() => tcp.PullAsync(0, 3, new float[ShardFixture.Length], CancellationToken.None, TimeSpan.FromMilliseconds(300)));
        Assert.Equal(ShardErrorKind.Timeout, timeout.Kind);
        Assert.Contains("did not reach step 3", timeout.Message);
    }

    internal static async Task<T> WaitForAsync<T>(Func<T?> probe) where T : class
    {
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < Timeout; await Task.Delay(20))
            if (probe() is { } found) return found;
        throw new Xunit.Sdk.XunitException("timed out waiting for the expected event");
    }
}
