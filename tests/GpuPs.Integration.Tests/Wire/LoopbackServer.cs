using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Server;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// A loopback server for <see cref="FakeShard"/>; unless a test says otherwise it requires a fresh job token. Served over
/// TLS (https://) when <c>auth</c> carries TLS credentials.
/// </summary>
internal sealed class LoopbackServer(GpuPsServerHost host, FakeShard shard, JobAuth auth) : IAsyncDisposable
{
    public FakeShard Shard => shard;
    public string Address => host.Address.ToString();
    public JobAuth Auth => auth;

    public static async Task<LoopbackServer> StartAsync(FakeShard shard, JobAuth? auth = null, Serilog.ILogger? log = null, ServerLimits? limits = null)
    {
        auth ??= JobAuth.WithToken(JobToken.Generate());
        var url = auth.Tls is null ? "http://127.0.0.1:0" : "https://127.0.0.1:0";
        return new(await GpuPsServerHost.StartAsync(shard, url, auth, limits ?? ServerLimits.Default, log ?? Serilog.Core.Logger.None, CancellationToken.None), shard, auth);
    }

    /// <summary>Options for a raw call: the job token and a 20 s deadline.</summary>
    public CallOptions CallOptions() =>
        new(new Metadata { { JobToken.MetadataKey, auth.Token!.HeaderValue } }, DateTime.UtcNow.AddSeconds(20));

    public ValueTask DisposeAsync() => host.DisposeAsync();

    /// <summary>Pushes <paramref name="chunks"/> through a plain gRPC client stream (none of GrpcShardClient's checks), with the job token.</summary>
    public async Task RawPushAsync(params PushChunkFrame[] chunks)
    {
        using var channel = GrpcChannel.ForAddress(Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, CallOptions());
        try
        {
            foreach (var chunk in chunks) await call.RequestStream.WriteAsync(chunk);
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception)
        {
            // The server may refuse the stream before it is fully written; its status is in the response.
            await call.ResponseAsync;
            throw;
        }
        await call.ResponseAsync;
    }
}
