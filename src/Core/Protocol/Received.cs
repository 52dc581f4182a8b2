using Google.Protobuf;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol;

/// <summary>
/// A unary request as the server received it: the message, or — when its bytes are not a valid message — what is wrong
/// with them. The server's method descriptors (<see cref="ParameterServerMethods.Served"/>) deserialize into it, so that
/// malformed bytes reach the service, which refuses them with INVALID_ARGUMENT, instead of failing inside grpc-dotnet,
/// which ends such a call with UNKNOWN and logs a stack trace at error level.
/// </summary>
public sealed class Received<T> where T : class, IMessage<T>
{
    private Received(T? message, string? malformation) => (Message, Malformation) = (message, malformation);

    /// <summary>The request; null when its bytes were malformed.</summary>
    public T? Message { get; }

    /// <summary>What is wrong with the bytes, e.g. <c>Malformed RegisterRequest message: …</c>; null for a valid message.</summary>
    public string? Malformation { get; }

    /// <summary>Parses <paramref name="payload"/>; never throws for malformed bytes.</summary>
    public static Received<T> Parse(System.Buffers.ReadOnlySequence<byte> payload, MessageParser<T> parser)
    {
        try { return Valid(parser.ParseFrom(payload)); }
        catch (InvalidProtocolBufferException e) { return new(null, ProtoWire.Malformed(typeof(T).Name, e.Message.TrimEnd('.')).Message); }
    }

    /// <summary>The message, or <see cref="ShardException"/> (InvalidRequest) with <see cref="Malformation"/>.</summary>
    public T Value => Message ?? throw ShardException.Invalid(Malformation!);

    private static Received<T> Valid(T message) => new(message, null);
}
