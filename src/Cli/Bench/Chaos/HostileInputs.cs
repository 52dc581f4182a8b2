using GpuPs.Core.Security;
using GpuPs.Protocol;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Cli.Bench.Chaos;

/// <summary>
/// Bad input a server must refuse, sent as a burst by the chaos benchmark: calls without the job token or with another
/// token, malformed request bytes for every unary method, and push streams that break the chunk rules (a first chunk
/// that does not start at offset 0, a worker id out of range, a NaN). None of them may be accepted.
/// </summary>
public static class HostileInputs
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);
    private static readonly byte[] Truncated = [0x0A, 0x05, 0x01];   // field 1 announces 5 bytes, 1 follows
    private static readonly string[] Unary = ["Register", "Pull", "Heartbeat", "Status"];

    /// <summary>What one burst did: calls sent, calls refused (a definite non-OK status), calls accepted (must be 0).</summary>
    public readonly record struct Burst(int Tried, int Refused, int Accepted);

    /// <summary>Sends <paramref name="calls"/> bad calls to the server at <paramref name="address"/>, chosen by <paramref name="random"/>.</summary>
    public static async Task<Burst> SendAsync(string address, JobToken token, int calls, Random random, CancellationToken ct)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var invoker = channel.CreateCallInvoker();
        var valid = new Metadata { { JobToken.MetadataKey, token.HeaderValue } };
        var stranger = new Metadata { { JobToken.MetadataKey, JobToken.Generate().HeaderValue } };
        int refused = 0, accepted = 0;
        for (int i = 0; i < calls; i++)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            var name = Unary[random.Next(Unary.Length)];
            var method = new Method<byte[], byte[]>(MethodType.Unary, ParameterServerMethods.ServiceName, name, Bytes, Bytes);
            try
            {
                switch (random.Next(5))
                {
                    case 0:   // no token
                        await invoker.AsyncUnaryCall(method, null, new CallOptions(deadline: deadline, cancellationToken: ct), []).ResponseAsync.ConfigureAwait(false);
                        break;
                    case 1:   // another job's token
                        await invoker.AsyncUnaryCall(method, null, new CallOptions(stranger, deadline, ct), []).ResponseAsync.ConfigureAwait(false);
                        break;
                    case 2:   // malformed bytes
                        await invoker.AsyncUnaryCall(method, null, new CallOptions(valid, deadline, ct), Truncated).ResponseAsync.ConfigureAwait(false);
                        break;
                    default:  // a broken push stream
                        await BrokenPushAsync(invoker, new CallOptions(valid, deadline, ct), random).ConfigureAwait(false);
                        break;
                }
                accepted++;
            }
            catch (RpcException e) when (e.StatusCode is not (StatusCode.OK or StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled))
            {
                refused++;
            }
            catch (RpcException) { }   // not answered (the server was down): neither refused nor accepted
        }
        return new Burst(calls, refused, accepted);
    }

    private static async Task BrokenPushAsync(CallInvoker invoker, CallOptions options, Random random)
    {
        var values = new float[] { 1, 2, float.NaN, 4 };
        var chunk = random.Next(3) switch
        {
            0 => new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), 1, values.AsMemory(0, 2)),           // does not start at offset 0
            1 => new PushChunkFrame(new PushHeader(1 << 20, 0, 0, 1, 0), 0, values.AsMemory(0, 2)),     // no such worker
            _ => new PushChunkFrame(new PushHeader(-1, 0, 0, 1, 0), 0, values),                         // a NaN, a negative id
        };
        using var call = invoker.AsyncClientStreamingCall(ParameterServerMethods.Push, null, options);
        try
        {
            await call.RequestStream.WriteAsync(chunk).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception) { }   // refused while writing: the answer is in the response
        await call.ResponseAsync.ConfigureAwait(false);
    }
}
