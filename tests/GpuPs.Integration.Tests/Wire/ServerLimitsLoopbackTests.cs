using System.Diagnostics;
using System.Net.Sockets;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Tests.Shared;
using Grpc.Core;
using Grpc.Net.Client;
using Serilog.Events;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// Issue 11, limits and malformed requests, over real loopback gRPC: what a hostile client can send and how the server
/// ends it — quickly, with a clear status, one log line, and nothing reaching the shard.
/// </summary>
public class ServerLimitsLoopbackTests
{
    private static readonly byte[] Truncated = [0x0A, 0x05, 0x01];   // field 1, 5 bytes announced, 1 present

    public static TheoryData<string> UnaryMethods => ["Register", "Pull", "Heartbeat", "Status"];

    [Theory]
    [MemberData(nameof(UnaryMethods))]
    public async Task A_malformed_unary_request_is_invalid_argument_with_one_log_line_and_no_stack_trace(string name)
    {
        var log = new CapturedLog();
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), log: log.Logger);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var method = new Method<byte[], byte[]>(MethodType.Unary, ParameterServerMethods.ServiceName, name, Bytes, Bytes);

        var e = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(method, null, server.CallOptions(), Truncated).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("Malformed ", e.Status.Detail);
        Assert.Contains("Request message", e.Status.Detail);
        Assert.Equal(0, server.Shard.Calls);
        var line = Assert.Single(log.Events, x => x.Level >= LogEventLevel.Warning);
        Assert.Equal(LogEventLevel.Warning, line.Level);
        Assert.Null(line.Exception);
        Assert.Equal(e.Status.Detail, CapturedLog.Property(line, "Reason"));
    }

    [Fact]
    public async Task An_endless_stream_of_empty_chunks_ends_with_invalid_argument_before_the_shard_is_called()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        using var channel = GrpcChannel.ForAddress(server.Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, server.CallOptions());
        var flood = Task.Run(async () =>
        {
            var empty = new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), 0, ReadOnlyMemory<float>.Empty);
            try
            {
                while (!call.ResponseAsync.IsCompleted) await call.RequestStream.WriteAsync(empty);
            }
            catch (Exception) { }   // the server ended the call
        });

        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));
        await flood.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("chunk at offset 0 carries no values", e.Status.Detail);
        Assert.Equal(0, server.Shard.Calls);
    }

    [Fact]
    public async Task An_empty_shard_takes_its_one_empty_chunk_and_no_second()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0, length: 0));
        var empty = new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), 0, ReadOnlyMemory<float>.Empty);

        await server.RawPushAsync(empty);
        var e = await Assert.ThrowsAsync<RpcException>(() => server.RawPushAsync(empty, empty));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("carries no values", e.Status.Detail);
        Assert.Single(server.Shard.Pushes);
    }

    [Fact]
    public async Task Messages_above_the_limit_are_resource_exhausted_and_those_below_pass()
    {
        var limits = new ServerLimits { MaxMessageBytes = 64 << 10 };
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits);
        var values = new float[FakeShard.DefaultLength];
        var header = new PushHeader(0, 0, 0, 1, 0);
        using var channel = GrpcChannel.ForAddress(server.Address);

        var push = await Assert.ThrowsAsync<RpcException>(() => server.RawPushAsync(new PushChunkFrame(header, 0, values.AsMemory(0, 20_000)),
            new PushChunkFrame(header, 20_000, values.AsMemory(20_000))));
        var register = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(ParameterServerMethods.Register, null,
            server.CallOptions(), new RegisterRequest { Host = new string('h', 70_000) }).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, push.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, register.StatusCode);
        Assert.Empty(server.Shard.Pushes);
        // 16,000 floats (64,000 bytes) and the header fit.
        var chunks = Enumerable.Range(0, (FakeShard.DefaultLength + 15_999) / 16_000)
            .Select(i => new PushChunkFrame(header, i * 16_000, values.AsMemory(i * 16_000, Math.Min(16_000, FakeShard.DefaultLength - i * 16_000)))).ToArray();
        await server.RawPushAsync(chunks);
        Assert.Single(server.Shard.Pushes);
    }

    [Fact]
    public async Task A_push_stream_that_goes_silent_is_dropped_after_the_idle_timeout()
    {
        var log = new CapturedLog();
        var limits = new ServerLimits { PushIdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), log: log.Logger, limits: limits);
        using var channel = GrpcChannel.ForAddress(server.Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, server.CallOptions());

        await call.RequestStream.WriteAsync(new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), 0, new float[10]));
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Contains("push stream sent no chunk for 300 ms", e.Status.Detail);
        Assert.Empty(server.Shard.Pushes);
        Assert.Contains(log.Events, x => x.Level == LogEventLevel.Warning && x.Exception is null
            && ((string?)CapturedLog.Property(x, "Reason"))?.Contains("no chunk for 300 ms") == true);
    }

    [Fact]
    public async Task A_connection_beyond_the_limit_is_closed_and_the_ones_open_keep_working()
    {
        var limits = new ServerLimits { MaxConnections = 2 };
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits);
        var address = new Uri(server.Address);
        using var held = GrpcChannel.ForAddress(server.Address);
        await StatusAsync(held);
        using var squatter = new TcpClient();   // a second connection that sends nothing
        await squatter.ConnectAsync(address.Host, address.Port);

        using var third = GrpcChannel.ForAddress(server.Address);
        var refused = await Assert.ThrowsAsync<RpcException>(() => StatusAsync(third));
        await StatusAsync(held);   // the connection already open is unaffected

        // Closed on accept: the client sees it as Unavailable when the close comes before its HTTP/2 preface is answered,
        // as Internal when it comes while the request is read back (a full run on a quiet machine saw the second).
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        squatter.Dispose();
        // Once the squatter's connection is gone, a new one is accepted (Kestrel counts the close asynchronously).
        var watch = Stopwatch.StartNew();
        while (true)
        {
            using var next = GrpcChannel.ForAddress(server.Address);
            try { await StatusAsync(next); break; }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && watch.Elapsed < TimeSpan.FromSeconds(10)) { await Task.Delay(20); }
        }

        Task<StatusReply> StatusAsync(GrpcChannel channel) => channel.CreateCallInvoker()
            .AsyncUnaryCall(ParameterServerMethods.Status, null, server.CallOptions().WithDeadline(DateTime.UtcNow.AddSeconds(10)), new StatusRequest()).ResponseAsync;
    }

    [Fact]
    public async Task Calls_beyond_the_streams_per_connection_limit_wait_for_a_free_stream()
    {
        var limits = new ServerLimits { MaxStreamsPerConnection = 2 };
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0) { NeverReady = true }, limits: limits);
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        });
        var invoker = channel.CreateCallInvoker();
        using var stop = new CancellationTokenSource();
        var options = server.CallOptions().WithCancellationToken(stop.Token);
        var blocked = Enumerable.Range(0, 2).Select(_ => invoker.AsyncUnaryCall(ParameterServerMethods.Pull, null, options, new PullRequest { MinStep = 1 })).ToList();
        await WaitUntilAsync(() => server.Shard.Calls == 2);

        // The third call gets no stream on this connection while the two pulls hold theirs.
        var third = invoker.AsyncUnaryCall(ParameterServerMethods.Status, null, server.CallOptions().WithDeadline(DateTime.UtcNow.AddMilliseconds(500)), new StatusRequest());
        var e = await Assert.ThrowsAsync<RpcException>(() => third.ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Equal(2, server.Shard.Calls);
        stop.Cancel();
        foreach (var pull in blocked) await Assert.ThrowsAsync<RpcException>(() => pull.ResponseAsync);
        blocked.ForEach(p => p.Dispose());
    }

    public static TheoryData<string> SilentPeers => ["never sends a byte", "leaves its headers unfinished", "never answers a ping"];

    /// <summary>
    /// Connections that hold the server without doing anything are closed, each by its own limit: with the defaults
    /// (2 min idle, 10 s for headers, a ping after 30 s) each of these would still be open when the test stops looking.
    /// </summary>
    [Theory]
    [MemberData(nameof(SilentPeers))]
    public async Task A_connection_that_holds_the_server_without_calling_is_closed(string peer)
    {
        var limits = peer switch
        {
            "never sends a byte" => new ServerLimits { ConnectionIdleTimeout = TimeSpan.FromMilliseconds(500) },
            "leaves its headers unfinished" => new ServerLimits { RequestHeadersTimeout = TimeSpan.FromMilliseconds(500) },
            _ => new ServerLimits { KeepAlivePingDelay = TimeSpan.FromSeconds(1), KeepAlivePingTimeout = TimeSpan.FromSeconds(1) },
        };
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), limits: limits);
        var uri = new Uri(server.Address);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        if (peer != "never sends a byte")
        {
            await stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
            await stream.WriteAsync(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 });   // an empty SETTINGS frame
        }
        if (peer == "leaves its headers unfinished")
            await stream.WriteAsync(new byte[] { 0, 0, 1, 1, 0, 0, 0, 0, 1, 0x83 });   // HEADERS of stream 1, ":method: POST", no END_HEADERS

        // Reads (and never answers) whatever the server sends, until it closes or resets the connection.
        using var window = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, window.Token) > 0) { }
        }
        catch (IOException) { }   // reset
        catch (OperationCanceledException) when (window.IsCancellationRequested) { }   // still open: the assertion names the peer
        Assert.False(window.IsCancellationRequested, $"a peer that {peer} was still connected after 15 s");
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "timed out waiting");
            await Task.Delay(10);
        }
    }
}
