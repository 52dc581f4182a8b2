using System.Net;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// Issue 11, item 7: pushes the shard refuses on their first chunk, sent back to back over one HTTP/2 connection, must
/// each get their own answer (FAILED_PRECONDITION), never an HTTP/2 reset (RST_STREAM ENHANCE_YOUR_CALM, seen as
/// RESOURCE_EXHAUSTED or INTERNAL), and innocent calls on the same connection must go through.
/// </summary>
public class RefusedPushFloodTests
{
    private const int Pushes = 400;
    private const int ChunkFloats = 10_000;

    [Fact]
    public async Task Refused_pushes_back_to_back_on_one_connection_are_all_failed_precondition_and_other_calls_pass()
    {
        var shard = new FakeShard(index: 0) { PushAnswer = PushOutcome.Late(3, "step 3 already closed") };
        await using var server = await LoopbackServer.StartAsync(shard);
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        });
        var invoker = channel.CreateCallInvoker();
        var gradient = new float[FakeShard.DefaultLength];
        var header = new PushHeader(0, 3, 0, 1, 0);
        using var stop = new CancellationTokenSource();
        var innocent = Task.Run(async () =>
        {
            var calls = 0;
            while (!stop.IsCancellationRequested)
            {
                await invoker.AsyncUnaryCall(ParameterServerMethods.Status, null, server.CallOptions(), new StatusRequest()).ResponseAsync;
                calls++;
            }
            return calls;
        });

        var codes = new Dictionary<string, int>();
        for (var i = 0; i < Pushes; i++)
        {
            using var call = invoker.AsyncClientStreamingCall(ParameterServerMethods.Push, null, server.CallOptions());
            try
            {
                for (var offset = 0; offset < gradient.Length; offset += ChunkFloats)
                    await call.RequestStream.WriteAsync(new PushChunkFrame(header, offset, gradient.AsMemory(offset, Math.Min(ChunkFloats, gradient.Length - offset))));
                await call.RequestStream.CompleteAsync();
            }
            catch (Exception) { }   // the server answered before the whole gradient was written
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            var key = e.StatusCode == StatusCode.FailedPrecondition ? "FailedPrecondition" : $"{e.StatusCode}: {e.Status.Detail}";
            codes[key] = codes.GetValueOrDefault(key) + 1;
        }
        stop.Cancel();
        var innocentCalls = await innocent;

        Assert.Equal(new Dictionary<string, int> { ["FailedPrecondition"] = Pushes }, codes);
        Assert.True(innocentCalls > 0);
        Assert.Empty(shard.Pushes);
    }
}
