using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Server;
using Grpc.Core;
using Grpc.Net.Client;
using Serilog.Core;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Integration.Tests.Server;

/// <summary>A real <see cref="ParameterShard"/> behind the real gRPC service on loopback: what only the wire can show.</summary>
public class ShardLoopbackTests
{
    [Fact]
    public async Task A_late_push_is_refused_on_its_first_chunk_before_the_rest_of_the_tensor_is_sent()
    {
        // Backup workers, n = 3, s = 1: workers 0 and 1 close step 0, so worker 2 is its straggler.
        var job = Job(SyncMode.Backup, workers: 3, steps: 5) with { Stragglers = 1 };
        using var shard = Create(job);
        RegisterAll(shard, 3);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        var before = shard.Status();
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.Insecure, Logger.None, CancellationToken.None);
        using var channel = GrpcChannel.ForAddress(host.Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null,
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(60)));

        // Only the first chunk (half the shard) is written and the stream is never completed: the answer can only come
        // from the admission of that first chunk. Without it the server would wait for the rest until the deadline.
        await call.RequestStream.WriteAsync(new PushChunkFrame(new PushHeader(2, 0, 0, 1, 0), 0, Filled(1f).AsMemory(0, Length / 2)));
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("step 0 refused: that step is closed", e.Status.Detail);
        var after = shard.Status();
        Assert.Equal(before.PushesDroppedLate + 1, after.PushesDroppedLate);
        Assert.Equal(before.BytesReceived, after.BytesReceived);
        Assert.Equal(before.PushesApplied, after.PushesApplied);
    }
}
