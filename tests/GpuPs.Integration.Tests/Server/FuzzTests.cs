using System.Collections.Concurrent;
using Google.Protobuf;
using GpuPs.Core.Modes;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Serilog.Core;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// Issue 11, fuzzing: over 10,000 seeded fuzzed messages through real loopback gRPC into a real shard — random bytes and
/// mutated valid requests for every unary RPC, push streams of random or mutated chunks, and push streams whose first
/// chunk is valid and whose rest is broken (gaps, overlaps, header changes, too many or too few values, non-finite or
/// extreme values, bad row counts, empty chunks). Every call gets a definite status (never UNKNOWN or INTERNAL, never a
/// reset), the server stays up, the model and its counters of accepted work are unchanged, the in-flight push memory
/// stays within its budget and is all given back, and an honest step afterwards is applied exactly.
/// </summary>
public class FuzzTests
{
    private const int Messages = 10_000;
    private const int Loops = 8;
    private const long FutureStep = 1000;   // a varint of two bytes: no single bit flip makes it the open step 0

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);
    private static readonly string[] UnaryNames = ["Register", "Pull", "Heartbeat", "Status"];
    private static readonly StatusCode[] Definite =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.FailedPrecondition, StatusCode.AlreadyExists,
        StatusCode.ResourceExhausted, StatusCode.PermissionDenied, StatusCode.DeadlineExceeded,
    ];

    [Fact]
    public async Task Ten_thousand_fuzzed_messages_leave_the_server_up_the_model_unchanged_and_memory_within_the_budget()
    {
        // BSP with two workers, both registered and live for the whole run: no fuzzed Register can take their slots.
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5), initial: Filled(0.5f));
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "honest-0" });
        shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "honest-1" });
        var token = JobToken.Generate();
        var limits = new ServerLimits { MaxMessageBytes = 64 << 10, MaxInflightPushBytes = 1 << 20 };
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.WithToken(token), limits, Logger.None, CancellationToken.None);
        using var channel = GrpcChannel.ForAddress(host.Address);
        var invoker = channel.CreateCallInvoker();
        var headers = new Metadata { { JobToken.MetadataKey, token.HeaderValue } };
        var before = shard.Status();

        var codes = new ConcurrentDictionary<string, int>();
        var sent = 0;
        await Task.WhenAll(Enumerable.Range(0, Loops).Select(loop => Task.Run(async () =>
        {
            var random = new Random(1234 + loop);
            while (Interlocked.CompareExchange(ref sent, 0, 0) < Messages)
            {
                var (code, messages) = random.Next(4) switch
                {
                    0 => await UnaryAsync(invoker, headers, random, mutated: false),
                    1 => await UnaryAsync(invoker, headers, random, mutated: true),
                    2 => await PushAsync(invoker, headers, MutatedChunks(random)),
                    _ => await PushAsync(invoker, headers, BrokenStream(random)),
                };
                codes.AddOrUpdate(code, 1, (_, n) => n + 1);
                Interlocked.Add(ref sent, messages);
            }
        })));

        Assert.True(sent >= Messages);
        Assert.All(codes.Keys, code => Assert.Contains(code, Definite.Select(c => c.ToString())));
        Assert.True(codes.GetValueOrDefault(nameof(StatusCode.InvalidArgument)) > Messages / 10, string.Join(", ", codes));
        var after = shard.Status();
        Assert.Equal(Filled(0.5f), Parameters(shard));
        Assert.Equal((0L, 0L, before.PushesApplied, before.BytesReceived), (after.Step, after.UpdatesSkipped, after.PushesApplied, after.BytesReceived));
        Assert.Equal(2, after.LiveWorkers);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        await using var client = new GrpcShardClient(host.Address.ToString(), JobAuth.WithToken(token), new ShardClientOptions { ChunkBytes = 16 << 10 });
        var served = await client.StatusAsync(CancellationToken.None);
        Assert.True(served.InflightPushBytesPeak <= limits.MaxInflightPushBytes);
        Assert.Equal(0, served.InflightPushBytes);

        // An honest step still closes exactly: p − mean gradient with SGD at learning rate 1.
        Assert.True((await client.PushAsync(new PushHeader(0, 0, 0, 1, 0), Filled(1f), CancellationToken.None)).IsApplied);
        Assert.True((await client.PushAsync(new PushHeader(1, 0, 0, 1, 0), Filled(3f), CancellationToken.None)).IsApplied);
        Assert.Equal(Filled(-1.5f), Parameters(shard));
    }

    /// <summary>One unary call of random bytes, or of a valid request with one to three byte mutations.</summary>
    private static async Task<(string, int)> UnaryAsync(CallInvoker invoker, Metadata headers, Random random, bool mutated)
    {
        var name = UnaryNames[random.Next(UnaryNames.Length)];
        byte[] request = mutated ? Mutate(random, ValidRequest(name, random)) : RandomBytes(random, random.Next(0, 48));
        var method = new Method<byte[], byte[]>(MethodType.Unary, ParameterServerMethods.ServiceName, name, Bytes, Bytes);
        // A pull for a step not reached waits until its deadline: keep that short.
        var options = new CallOptions(headers, DateTime.UtcNow.AddMilliseconds(name == "Pull" ? 100 : 10_000));
        try
        {
            await invoker.AsyncUnaryCall(method, null, options, request).ResponseAsync;
            return ("OK", 1);
        }
        catch (RpcException e)
        {
            return (Answer(e), 1);
        }
    }

    private static byte[] ValidRequest(string name, Random random) => name switch
    {
        "Register" => new RegisterRequest { RequestedWorkerId = random.Next(-2, 3), ClientToken = "fuzz", Host = "fuzzer" }.ToByteArray(),
        "Pull" => new PullRequest { WorkerId = random.Next(-2, 3), MinStep = 0 }.ToByteArray(),
        "Heartbeat" => new HeartbeatRequest { WorkerId = random.Next(-2, 3), Step = random.Next(0, 3) }.ToByteArray(),
        _ => new StatusRequest().ToByteArray(),
    };

    /// <summary>A push stream of one to three chunks, each random bytes or a future step's valid chunk with byte mutations.</summary>
    private static byte[][] MutatedChunks(Random random) =>
        Enumerable.Range(0, random.Next(1, 4)).Select(i => random.Next(2) == 0
            ? RandomBytes(random, random.Next(0, 64))
            : Mutate(random, Chunk(new PushHeader(random.Next(0, 2), FutureStep, 0, 1, 0), i * 4, Filled(1f).AsMemory(0, 4)))).ToArray();

    /// <summary>A push whose first chunk is valid (an honest worker, the open step) and whose stream is broken after it.</summary>
    private static byte[][] BrokenStream(Random random)
    {
        var header = new PushHeader(random.Next(0, 2), 0, 0, 1, 0);
        var values = Filled(1f);
        byte[] Part(long offset, int from, int count, PushHeader? h = null) => Chunk(h ?? header, offset, values.AsMemory(from, count));
        var first = Part(0, 0, 4);
        return random.Next(10) switch
        {
            0 => [first, Part(5, 4, 3)],                                            // a gap
            1 => [first, Part(3, 3, 5)],                                            // an overlap
            2 => [first, Part(4, 4, 4, header with { Step = 1 })],                  // the header changes
            3 => [first, Part(4, 4, 4), Part(8, 0, 1)],                             // past the shard's end
            4 => [first],                                                           // too few values
            5 => [first, Chunk(header, 4, new[] { 1f, float.NaN, 1f, 1f })],      // a NaN
            6 => [first, Chunk(header, 4, new[] { 1f, 3e38f, 1f, 1f })],          // a mean beyond the limit
            7 => [Part(0, 0, 8, header with { SampleCount = random.Next(2) == 0 ? 0 : 1L << 41 })],   // rows out of range
            8 => [first, Chunk(header, 4, ReadOnlyMemory<float>.Empty), Part(4, 4, 4)],                 // an empty chunk
            _ => [Part(0, 0, 8, header with { Shard = 1 })],                        // another shard's push
        };
    }

    private static byte[] Chunk(PushHeader header, long offset, ReadOnlyMemory<float> values) =>
        Serialize(ParameterServerMethods.Push.RequestMarshaller, new PushChunkFrame(header, offset, values));

    /// <summary>Sends <paramref name="chunks"/> as one push stream; the server may answer before all are written.</summary>
    private static async Task<(string, int)> PushAsync(CallInvoker invoker, Metadata headers, byte[][] chunks)
    {
        var method = new Method<byte[], byte[]>(MethodType.ClientStreaming, ParameterServerMethods.ServiceName, "Push", Bytes, Bytes);
        using var call = invoker.AsyncClientStreamingCall(method, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(10)));
        try
        {
            foreach (var chunk in chunks) await call.RequestStream.WriteAsync(chunk);
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception) { }   // answered early
        try
        {
            await call.ResponseAsync;
            return ("OK", chunks.Length);
        }
        catch (RpcException e)
        {
            return (Answer(e), chunks.Length);
        }
    }

    /// <summary>The status a call ended with; an HTTP/2 reset (ENHANCE_YOUR_CALM arrives as RESOURCE_EXHAUSTED) is no answer.</summary>
    private static string Answer(RpcException e) => e.Status.Detail.Contains("HTTP/2") ? $"HTTP/2 reset: {e.Status.Detail}" : e.StatusCode.ToString();

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>One to three of: flip a bit, truncate, insert a random byte, repeat a slice.</summary>
    private static byte[] Mutate(Random random, byte[] bytes)
    {
        var result = bytes.ToList();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            int at = random.Next(result.Count + 1);
            switch (random.Next(4))
            {
                case 0 when result.Count > 0:
                    at = Math.Min(at, result.Count - 1);
                    result[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    result.RemoveRange(at, result.Count - at);
                    break;
                case 2:
                    result.Insert(at, (byte)random.Next(256));
                    break;
                default:
                    int from = random.Next(result.Count + 1), count = random.Next(0, Math.Min(8, result.Count - from) + 1);
                    result.InsertRange(at, result.GetRange(from, count));
                    break;
            }
        }
        return [.. result];
    }
}
