using System.Runtime.InteropServices;
using Google.Protobuf;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using Grpc.Core;
using Grpc.Net.Client;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>ParameterServerService and GrpcShardClient over a real loopback Kestrel server (port 0) with a fake shard.</summary>
public class ServiceLoopbackTests
{
    private const int Length = FakeShard.DefaultLength;
    private static readonly ShardClientOptions SmallChunks = new() { ChunkBytes = 4 * 4099, DefaultTimeout = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Pull_returns_the_shards_exact_values_and_header()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 2) { PullStep = 7, Finished = true });
        await using var client = new GrpcShardClient(server.Address, server.Auth, SmallChunks);
        var destination = new float[Length];

        var result = await client.PullAsync(workerId: 1, minStep: 3, destination, CancellationToken.None);

        Assert.Equal(new PullResult(7, 2, FakeShard.OffsetOf(2), Length, true), result);
        Assert.Equal(server.Shard.Parameters, destination);
        Assert.Equal((1, 3L), server.Shard.LastWait);
    }

    [Fact]
    public async Task Chunked_push_arrives_exactly_once_and_whole()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 1));
        await using var client = new GrpcShardClient(server.Address, server.Auth, SmallChunks);
        var gradient = RandomFloats(new Random(3), Length);
        var header = new PushHeader(WorkerId: 4, Step: 9, Shard: 1, SampleCount: 32, LossSum: 1.5, CodeRow: 4, Partition: 0);

        var reply = await client.PushAsync(header, gradient, CancellationToken.None);

        Assert.Equal(10, reply.Step);
        var push = Assert.Single(server.Shard.Pushes);
        Assert.Equal(header, push.Header);
        Assert.Equal(gradient, push.Gradient);
    }

    [Fact]
    public async Task Later_chunks_may_omit_the_header()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        var gradient = RandomFloats(new Random(4), Length);
        var header = new PushHeader(1, 2, 0, 3, 4);

        await server.RawPushAsync(new PushChunkFrame(header, 0, gradient.AsMemory(0, 10)), new PushChunkFrame(default, 10, gradient.AsMemory(10)));

        Assert.Equal(gradient, Assert.Single(server.Shard.Pushes).Gradient);
    }

    public static TheoryData<string, string> BadStreams => new()
    {
        { "header disagreement", "has header PushHeader { WorkerId = 1, Step = 3," },
        { "gap", "chunk at offset 11 does not follow the previous data, which ends at 10" },
        { "overlap", "chunk at offset 9 does not follow the previous data, which ends at 10" },
        { "short", $"push covers {Length - 1} of the shard's {Length} parameters" },
        { "long", $"chunk [10, {Length + 1}) runs past the shard's {Length} parameters" },
        { "other shard", "push for shard 1 sent to shard 0" },
        { "no chunks", "push stream carried no chunks" },
    };

    [Theory]
    [MemberData(nameof(BadStreams))]
    public async Task Malformed_push_streams_are_invalid_argument_and_never_reach_the_shard(string kind, string message)
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        var g = new float[Length + 1];
        var h = new PushHeader(1, 2, 0, 3, 4);
        PushChunkFrame[] chunks = kind switch
        {
            "header disagreement" => [new(h, 0, g.AsMemory(0, 10)), new(h with { Step = 3 }, 10, g.AsMemory(10, Length - 10))],
            "gap" => [new(h, 0, g.AsMemory(0, 10)), new(h, 11, g.AsMemory(11, Length - 11))],
            "overlap" => [new(h, 0, g.AsMemory(0, 10)), new(h, 9, g.AsMemory(9, Length - 9))],
            "short" => [new(h, 0, g.AsMemory(0, Length - 1))],
            "long" => [new(h, 0, g.AsMemory(0, 10)), new(h, 10, g.AsMemory(10, Length - 9))],
            "other shard" => [new(h with { Shard = 1 }, 0, g.AsMemory(0, Length))],
            _ => [],
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => server.RawPushAsync(chunks));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(message, e.Status.Detail);
        Assert.Empty(server.Shard.Pushes);
    }

    [Fact]
    public async Task Malformed_chunk_bytes_are_invalid_argument()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        var rawPush = new Method<byte[], PushReply>(MethodType.ClientStreaming, ParameterServerMethods.ServiceName, "Push",
            Marshallers.Create(b => b, b => b), ParameterServerMethods.Push.ResponseMarshaller);
        using var channel = GrpcChannel.ForAddress(server.Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(rawPush, null, server.CallOptions());

        await call.RequestStream.WriteAsync(new PushChunk { Values = ByteString.CopyFrom(new byte[6]) }.ToByteArray());
        await call.RequestStream.CompleteAsync();
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("Malformed PushChunk message: values field has 6 bytes, not a multiple of 4 (float32).", e.Status.Detail);
        Assert.Empty(server.Shard.Pushes);
    }

    [Fact]
    public async Task Clients_using_the_generated_protobuf_messages_interoperate()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0) { PullStep = 5 });
        var pull = new Method<PullRequest, PullReply>(MethodType.Unary, ParameterServerMethods.ServiceName, "Pull",
            ParameterServerMethods.Pull.RequestMarshaller, Marshallers.Create(m => m.ToByteArray(), PullReply.Parser.ParseFrom));
        var push = new Method<PushChunk, PushReply>(MethodType.ClientStreaming, ParameterServerMethods.ServiceName, "Push",
            Marshallers.Create(m => m.ToByteArray(), PushChunk.Parser.ParseFrom), ParameterServerMethods.Push.ResponseMarshaller);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var invoker = channel.CreateCallInvoker();

        var reply = await invoker.AsyncUnaryCall(pull, null, server.CallOptions(), new PullRequest { WorkerId = 0 });
        Assert.Equal(5, reply.Step);
        Assert.Equal(server.Shard.Parameters, MemoryMarshal.Cast<byte, float>(reply.Values.Span).ToArray());

        var gradient = RandomFloats(new Random(8), Length);
        var bytes = MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray();
        using var call = invoker.AsyncClientStreamingCall(push, null, server.CallOptions());
        await call.RequestStream.WriteAsync(new PushChunk { WorkerId = 6, Step = 5, SampleCount = 2, LossSum = 0.25, Values = ByteString.CopyFrom(bytes[..400]) });
        await call.RequestStream.WriteAsync(new PushChunk { Offset = 100, Values = ByteString.CopyFrom(bytes[400..]) });
        await call.RequestStream.CompleteAsync();
        await call.ResponseAsync;

        var received = Assert.Single(server.Shard.Pushes);
        Assert.Equal(new PushHeader(6, 5, 0, 2, 0.25), received.Header);
        Assert.Equal(gradient, received.Gradient);
    }

    public static TheoryData<ShardErrorKind> ErrorKinds => [ShardErrorKind.InvalidRequest, ShardErrorKind.UnknownWorker, ShardErrorKind.JobFull, ShardErrorKind.SlotTaken];

    [Theory]
    [MemberData(nameof(ErrorKinds))]
    public async Task Shard_errors_reach_the_client_as_the_same_domain_error_and_message(ShardErrorKind kind)
    {
        var refusal = new ShardException(kind, $"refused with {kind}: do something else");
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0) { Refusal = refusal });
        await using var client = new GrpcShardClient(server.Address, server.Auth, SmallChunks);

        foreach (var call in EveryCall(client))
        {
            var e = await Assert.ThrowsAsync<ShardException>(call);
            Assert.Equal(kind, e.Kind);
            Assert.Contains(refusal.Message, e.Message);
        }
    }

    public static TheoryData<string> ForeignCredentials => ["no token", "another token"];

    [Theory]
    [MemberData(nameof(ForeignCredentials))]
    public async Task Every_call_without_the_job_token_is_unauthenticated_and_never_reaches_the_shard(string credentials)
    {
        var log = new CapturedLog();
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), log: log.Logger);
        var auth = credentials == "no token" ? JobAuth.Insecure : JobAuth.WithToken(JobToken.Generate());
        await using var client = new GrpcShardClient(server.Address, auth, SmallChunks);

        foreach (var call in EveryCall(client))
        {
            var e = await Assert.ThrowsAsync<ShardException>(call);
            Assert.Equal(ShardErrorKind.Unauthenticated, e.Kind);
            Assert.Contains("no valid job token", e.Message);
        }

        Assert.Equal(0, server.Shard.Calls);
        // One line per refusal at most (RefusalLog keeps it to one a second), and never a stack trace.
        var refusals = log.Events.Where(e => e.MessageTemplate.Text.StartsWith("Refused", StringComparison.Ordinal)).ToList();
        Assert.InRange(refusals.Count, 1, 5);
        Assert.All(refusals, r => Assert.Equal("no valid job token", CapturedLog.Property(r, "Reason")));
        Assert.All(refusals, r => Assert.Null(r.Exception));
    }

    [Fact]
    public async Task A_call_without_the_token_is_refused_from_its_headers_while_its_message_is_still_arriving()
    {
        var log = new CapturedLog();
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0), log: log.Logger);
        using var http = new HttpClient(new SocketsHttpHandler());
        var body = new UnfinishedGrpcMessage(declared: 1 << 20, sent: 64 << 10);
        body.Headers.ContentType = new("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(server.Address), "/gpups.v1.ParameterServer/Register"))
        {
            Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = body,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");

        // The message never ends: a server that read it before checking the token would never answer (the bound only
        // keeps a failing run from hanging).
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        body.Release();

        Assert.Equal("16", Assert.Single(response.Headers.GetValues("grpc-status")));   // UNAUTHENTICATED
        Assert.Contains("no valid job token", Assert.Single(response.Headers.GetValues("grpc-message")));
        Assert.Equal(0, server.Shard.Calls);
        var refusal = Assert.Single(log.Events, e => e.MessageTemplate.Text.StartsWith("Refused", StringComparison.Ordinal));
        Assert.Equal("/gpups.v1.ParameterServer/Register", CapturedLog.Property(refusal, "Method"));
        Assert.StartsWith("ipv4:127.0.0.1:", (string?)CapturedLog.Property(refusal, "Peer"));
    }

    [Fact]
    public async Task The_standard_health_service_answers_probes_without_the_token_while_the_shard_does_not()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        using var channel = GrpcChannel.ForAddress(server.Address);

        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest(),
            deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        var status = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker()
            .AsyncUnaryCall(ParameterServerMethods.Status, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)), new StatusRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
    }

    public static TheoryData<string> Authorizations => ["", "Basic {0}", "Bearer", "{0}", "Bearer {0}x", "Bearer x{0}", "Bearer {0}{0}"];

    [Theory]
    [MemberData(nameof(Authorizations))]
    public async Task A_call_with_anything_but_bearer_and_the_token_is_UNAUTHENTICATED_on_the_wire(string authorization)
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0));
        using var channel = GrpcChannel.ForAddress(server.Address);
        var invoker = channel.CreateCallInvoker();
        var headers = new Metadata { { JobToken.MetadataKey, string.Format(authorization, server.Auth.Token!.Value) } };

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            invoker.AsyncUnaryCall(ParameterServerMethods.Status, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(20)), new StatusRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        // The scheme is case-insensitive, the token is not.
        headers = new Metadata { { JobToken.MetadataKey, "bearer " + server.Auth.Token.Value } };
        await invoker.AsyncUnaryCall(ParameterServerMethods.Status, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(20)), new StatusRequest());
        Assert.Equal(1, server.Shard.Calls);
    }

    [Fact]
    public async Task An_insecure_server_serves_calls_without_a_token_and_warns_that_it_does()
    {
        var log = new CapturedLog();
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0) { PullStep = 3 }, JobAuth.Insecure, log.Logger);
        await using var client = new GrpcShardClient(server.Address, JobAuth.Insecure, SmallChunks);

        Assert.Equal(3, (await client.PullAsync(0, 0, new float[Length], CancellationToken.None)).Step);
        Assert.Contains(log.Events, e => e.Level == Serilog.Events.LogEventLevel.Warning && e.MessageTemplate.Text.Contains("WITHOUT AUTHENTICATION"));
    }

    public static TheoryData<PushOutcomeKind, StatusCode> RefusedPushes => new()
    {
        { PushOutcomeKind.Late, StatusCode.FailedPrecondition },
        { PushOutcomeKind.Duplicate, StatusCode.AlreadyExists },
        { PushOutcomeKind.Finished, StatusCode.FailedPrecondition },
        { PushOutcomeKind.Refused, StatusCode.FailedPrecondition },
    };

    [Theory]
    [MemberData(nameof(RefusedPushes))]
    public async Task A_refused_push_travels_as_the_status_any_grpc_client_expects_and_comes_back_as_the_same_outcome(PushOutcomeKind kind, StatusCode code)
    {
        var answer = new PushOutcome(kind, Step: 7, JobFinished: kind == PushOutcomeKind.Finished, Reason: $"push refused: {kind}");
        var fake = new FakeShard(index: 0) { PushAnswer = answer };
        await using var server = await LoopbackServer.StartAsync(fake);
        await using var client = new GrpcShardClient(server.Address, server.Auth, SmallChunks);
        var header = new PushHeader(0, 3, 0, 1, 0);

        Assert.Equal(answer, await client.PushAsync(header, new float[Length], CancellationToken.None));

        var wire = await Assert.ThrowsAsync<RpcException>(() => server.RawPushAsync(new PushChunkFrame(header, 0, new float[Length])));
        Assert.Equal(code, wire.StatusCode);
        Assert.Equal(answer.Reason, wire.Status.Detail);
        Assert.Empty(fake.Pushes);
    }

    [Fact]
    public async Task A_pull_that_never_completes_ends_at_its_deadline()
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(index: 0) { NeverReady = true });
        await using var client = new GrpcShardClient(server.Address, server.Auth, SmallChunks with { DefaultTimeout = TimeSpan.FromMilliseconds(300) });

        var explicitTimeout = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(0, 1, new float[Length], CancellationToken.None, TimeSpan.FromMilliseconds(200)));
        var defaultTimeout = await Assert.ThrowsAsync<ShardException>(() => client.PullAsync(0, 1, new float[Length], CancellationToken.None));

        Assert.Equal(ShardErrorKind.Timeout, explicitTimeout.Kind);
        Assert.Equal(ShardErrorKind.Timeout, defaultTimeout.Kind);
    }

    /// <summary>Every call of the service, through <paramref name="client"/>.</summary>
    private static Func<Task>[] EveryCall(GrpcShardClient client)
    {
        var none = CancellationToken.None;
        return
        [
            () => client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, none),
            () => client.PullAsync(0, 0, new float[Length], none),
            () => client.PushAsync(new PushHeader(0, 0, 0, 1, 0), new float[Length], none),
            () => client.HeartbeatAsync(new HeartbeatRequest { WorkerId = 0, Step = 0 }, none),
            () => client.StatusAsync(none),
        ];
    }
}
