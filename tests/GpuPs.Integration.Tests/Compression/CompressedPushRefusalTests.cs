using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using GpuPs.Core.Compression;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Integration.Tests.DataPlane;
using GpuPs.Integration.Tests.Wire;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using GpuPs.Worker.Transport.Tcp;
using Grpc.Core;
using Grpc.Net.Client;
using static GpuPs.Integration.Tests.Wire.WireTestSupport;

namespace GpuPs.Integration.Tests.Compression;

/// <summary>
/// Compressed pushes over real loopback sockets: valid ones arrive exactly as the compressor left them, over gRPC and the
/// TCP data plane; a message with a duplicate or out-of-range index, a wrong length or a non-finite scale is refused
/// with a clear error and nothing reaches the shard.
/// </summary>
public class CompressedPushRefusalTests
{
    private const int Length = 5000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly PushHeader Header = new(1, 4, 0, 32, 1.5);

    private static float[] Rounded(CompressionKind kind)
    {
        var values = RandomFloats(new Random(7), Length);
        new TensorCompressor(kind, new CompressionSettings(TopKRatio: 0.02)).Round(values);
        return values;
    }

    public static TheoryData<string, TensorEncoding, byte[], string> BadMessages => new()
    {
        { "duplicate index", TensorEncoding.Sparse, Sparse([10, 10]), "a duplicate" },
        { "index out of range", TensorEncoding.Sparse, Sparse([10, Length]), $"index {Length} (entry 1) is out of range" },
        { "non-finite scale", TensorEncoding.Sign, Sign(float.NaN), "a scale must be finite and not negative" },
        { "wrong length", TensorEncoding.Sign, new byte[SignCodec.EncodedBytes(Length) - 1], "expected" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public async Task Over_grpc_a_bad_compressed_push_is_refused_and_nothing_applied(string _, TensorEncoding encoding, byte[] payload, string reason)
    {
        await using var server = await LoopbackServer.StartAsync(new FakeShard(0, Length));
        var chunk = new PushChunk { WorkerId = 1, Step = 4, SampleCount = 32, LossSum = 1.5, ValueCount = Length };
        if (encoding == TensorEncoding.Sparse) chunk.SparseValues = ByteString.CopyFrom(payload);
        else chunk.SignValues = ByteString.CopyFrom(payload);

        var e = await Assert.ThrowsAsync<RpcException>(() => PushBytesAsync(server, chunk.ToByteArray()));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(reason, e.Status.Detail);
        Assert.Contains("nothing of the push is applied", e.Status.Detail);
        Assert.Empty(server.Shard.Pushes);

        // The same shard takes a valid compressed push, exactly.
        await using var client = new GrpcShardClient(server.Address, server.Auth, new ShardClientOptions { ChunkBytes = 4 * 1500, DefaultTimeout = Timeout });
        var values = Rounded(encoding == TensorEncoding.Sparse ? CompressionKind.TopK : CompressionKind.Sign);
        await client.PushAsync(Header, values, CancellationToken.None, encoding: encoding);
        Assert.Equal(values, Assert.Single(server.Shard.Pushes).Gradient);
    }

    [Theory]
    [MemberData(nameof(BadMessages))]
    public async Task Over_the_data_plane_a_bad_compressed_push_is_refused_and_nothing_applied(string _, TensorEncoding encoding, byte[] payload, string reason)
    {
        var shard = new FakeShard(0, Length);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default,
            Serilog.Core.Logger.None, CancellationToken.None);
        using (var raw = await RawFrameClient.HelloAsync(host.DataPort, auth.Token!.HeaderValue))
        {
            raw.Send(FrameAnswers.PushFrame(Header, payload.Length, encoding), payload);
            var (answer, message) = raw.Read() ?? throw new Xunit.Sdk.XunitException("the server closed the connection without an answer");
            Assert.Equal(FrameKind.Error, answer.Kind);
            Assert.Equal(ShardErrorKind.InvalidRequest, (ShardErrorKind)answer.Part);
            Assert.Contains(reason, Encoding.UTF8.GetString(message));
            Assert.Contains("nothing of it is applied", Encoding.UTF8.GetString(message));
        }
        Assert.Empty(shard.Pushes);

        await using var channel = new TcpTensorChannel("127.0.0.1", host.DataPort, 0, auth, Timeout);
        var values = Rounded(encoding == TensorEncoding.Sparse ? CompressionKind.TopK : CompressionKind.Sign);
        await channel.PushAsync(Header, values, CancellationToken.None, encoding: encoding);
        Assert.Equal(values, Assert.Single(shard.Pushes).Gradient);
    }

    /// <summary>One push stream of one chunk of raw protobuf bytes (what a client in another language might send).</summary>
    private static async Task PushBytesAsync(LoopbackServer server, byte[] chunk)
    {
        var method = new Method<byte[], PushReply>(MethodType.ClientStreaming, ParameterServerMethods.Push.ServiceName, "Push",
            Marshallers.Create(b => b, b => b), Marshallers.Create(r => r.ToByteArray(), PushReply.Parser.ParseFrom));
        using var channel = GrpcChannel.ForAddress(server.Address);
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(method, null, server.CallOptions());
        try
        {
            await call.RequestStream.WriteAsync(chunk);
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception)
        {
            await call.ResponseAsync;
            throw;
        }
        await call.ResponseAsync;
    }

    private static byte[] Sparse(int[] indices)
    {
        var bytes = new byte[8 * indices.Length];
        for (int j = 0; j < indices.Length; j++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * j), (uint)indices[j]);
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * (indices.Length + j)), 1f);
        }
        return bytes;
    }

    private static byte[] Sign(float firstScale)
    {
        var bytes = new byte[SignCodec.EncodedBytes(Length)];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, firstScale);
        return bytes;
    }
}
