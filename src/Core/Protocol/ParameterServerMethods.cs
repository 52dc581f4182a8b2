using System.Buffers;
using Google.Protobuf;
using Grpc.Core;

namespace GpuPs.Protocol;

/// <summary>
/// Method descriptors of the <c>gpups.v1.ParameterServer</c> service (proto/gpups.proto), shared by the server binding and the
/// client. The proto is compiled with <c>GrpcServices="None"</c>: these descriptors replace the generated stubs so that the two
/// tensor-carrying messages use raw marshallers (<see cref="PullFrame"/>, <see cref="PushChunkFrame"/>).
/// </summary>
/// <remarks>
/// Measured on a 2-core loopback with 4 MiB float tensors: protobuf <c>bytes</c> through the generated marshallers moved
/// ~120 MB/s (push) and ~130 MB/s (pull), bounded by the ByteString copies and allocations; serializing straight from tensor
/// memory via <see cref="SerializationContext.GetBufferWriter"/> and deserializing from
/// <see cref="DeserializationContext.PayloadAsReadOnlySequence"/> into a pooled buffer removes them. The bytes on the wire
/// are unchanged, so clients in other languages use the generated code of the same proto.
/// </remarks>
public static class ParameterServerMethods
{
    /// <summary>Fully qualified service name, as in proto/gpups.proto; part of every method's path.</summary>
    public const string ServiceName = "gpups.v1.ParameterServer";

    /// <summary>
    /// Register: joins the job; the reply carries the worker id, the job and the shard's current step.
    /// </summary>
    public static readonly Method<RegisterRequest, RegisterReply> Register =
        new(MethodType.Unary, ServiceName, nameof(Register), Protobuf(RegisterRequest.Parser), Protobuf(RegisterReply.Parser));

    /// <summary>Pull: the reply's values are deserialized into a pooled buffer owned by the returned <see cref="PullFrame"/>.</summary>
    public static readonly Method<PullRequest, PullFrame> Pull =
        new(MethodType.Unary, ServiceName, nameof(Pull), Protobuf(PullRequest.Parser),
            Raw(PullFrame.Parse));

    /// <summary>Push: each chunk is serialized straight from the memory it borrows; the server receives frames owning pooled buffers.</summary>
    public static readonly Method<PushChunkFrame, PushReply> Push =
        new(MethodType.ClientStreaming, ServiceName, nameof(Push),
            Raw(PushChunkFrame.Parse),
            Protobuf(PushReply.Parser));

    /// <summary>
    /// Heartbeat: liveness; a worker silent for longer than the job's heartbeat timeout is evicted.
    /// </summary>
    public static readonly Method<HeartbeatRequest, HeartbeatReply> Heartbeat =
        new(MethodType.Unary, ServiceName, nameof(Heartbeat), Protobuf(HeartbeatRequest.Parser), Protobuf(HeartbeatReply.Parser));

    /// <summary>Status: the shard's progress and counters.</summary>
    public static readonly Method<StatusRequest, StatusReply> Status =
        new(MethodType.Unary, ServiceName, nameof(Status), Protobuf(StatusRequest.Parser), Protobuf(StatusReply.Parser));

    /// <summary>AwaitPushTurn: a round-robin job's push turn on the shard's link, asked before the push's first byte.</summary>
    public static readonly Method<PushTurnRequest, PushTurnReply> AwaitPushTurn =
        new(MethodType.Unary, ServiceName, nameof(AwaitPushTurn), Protobuf(PushTurnRequest.Parser), Protobuf(PushTurnReply.Parser));

    /// <summary>
    /// The server's descriptors of the unary methods: the names and bytes of the ones above, with the request received as
    /// <see cref="Received{T}"/>, so that the service, not grpc-dotnet, answers a malformed request (INVALID_ARGUMENT).
    /// Push needs none: <see cref="PushChunkFrame.Parse"/> throws <see cref="GpuPs.Core.Shards.ShardException"/>, which
    /// the service sees when it reads the stream.
    /// </summary>
    public static class Served
    {
        /// <summary><see cref="ParameterServerMethods.Register"/> as the server receives it.</summary>
        public static readonly Method<Received<RegisterRequest>, RegisterReply> Register = Receiving(ParameterServerMethods.Register, RegisterRequest.Parser);
        /// <summary><see cref="ParameterServerMethods.Pull"/> as the server receives it.</summary>
        public static readonly Method<Received<PullRequest>, PullFrame> Pull = Receiving(ParameterServerMethods.Pull, PullRequest.Parser);
        /// <summary><see cref="ParameterServerMethods.Heartbeat"/> as the server receives it.</summary>
        public static readonly Method<Received<HeartbeatRequest>, HeartbeatReply> Heartbeat = Receiving(ParameterServerMethods.Heartbeat, HeartbeatRequest.Parser);
        /// <summary><see cref="ParameterServerMethods.Status"/> as the server receives it.</summary>
        public static readonly Method<Received<StatusRequest>, StatusReply> Status = Receiving(ParameterServerMethods.Status, StatusRequest.Parser);
        /// <summary><see cref="ParameterServerMethods.AwaitPushTurn"/> as the server receives it.</summary>
        public static readonly Method<Received<PushTurnRequest>, PushTurnReply> AwaitPushTurn = Receiving(ParameterServerMethods.AwaitPushTurn, PushTurnRequest.Parser);

        private static Method<Received<TRequest>, TResponse> Receiving<TRequest, TResponse>(Method<TRequest, TResponse> method, MessageParser<TRequest> parser)
            where TRequest : class, IMessage<TRequest>, IBufferMessage where TResponse : class =>
            new(method.Type, method.ServiceName, method.Name,
                Marshallers.Create<Received<TRequest>>(
                    (request, context) => method.RequestMarshaller.ContextualSerializer(request.Value, context),
                    context => Received<TRequest>.Parse(context.PayloadAsReadOnlySequence(), parser)),
                method.ResponseMarshaller);
    }

    /// <summary>The contextual protobuf marshaller that Grpc.Tools generates for a message type.</summary>
    private static Marshaller<T> Protobuf<T>(MessageParser<T> parser) where T : IMessage<T>, IBufferMessage =>
        Marshallers.Create<T>(
            (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context => parser.ParseFrom(context.PayloadAsReadOnlySequence()));

    /// <summary>A raw marshaller: the frame writes its protobuf encoding itself, with the payload length announced first.</summary>
    private static Marshaller<T> Raw<T>(Func<ReadOnlySequence<byte>, T> parse) where T : class, IWireFrame =>
        Marshallers.Create<T>(
            (frame, context) =>
            {
                context.SetPayloadLength(frame.CalculateSize());
                frame.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context => parse(context.PayloadAsReadOnlySequence()));
}

/// <summary>A message with a hand-written protobuf encoding.</summary>
internal interface IWireFrame
{
    int CalculateSize();

    void WriteTo(IBufferWriter<byte> writer);
}
