using System.Text.Unicode;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol.Frames;

/// <summary>
/// The one mapping between domain requests and answers and data-plane frame headers, used by both ends: a push's
/// <see cref="PushHeader"/>, its <see cref="PushOutcome"/>, and a failure's <see cref="ShardException"/> travel as the
/// same values the gRPC plane carries (<see cref="WireStatus"/>), so a caller cannot tell the planes apart by their answers.
/// </summary>
public static class FrameAnswers
{
    /// <summary>Longest reason or error message a frame carries (UTF-8 bytes); longer ones are cut.</summary>
    public const int MaxMessageBytes = 4096;

    /// <summary>Bytes of the piece a <see cref="FrameFlags.Piece"/> frame's payload starts with: offset and length, int32 each.</summary>
    public const int PieceBytes = 8;

    /// <summary>Writes <paramref name="piece"/> as a frame payload's first <see cref="PieceBytes"/>.</summary>
    public static void WritePiece(PieceRange piece, Span<byte> destination)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination, piece.Offset);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination[4..], piece.Length);
    }

    /// <summary>The piece a <see cref="FrameFlags.Piece"/> payload starts with, checked against a shard of <paramref name="shardLength"/>.</summary>
    /// <exception cref="ShardException">InvalidRequest: the payload is too short or the piece lies outside the shard.</exception>
    public static PieceRange PieceOf(ReadOnlySpan<byte> payload, int shardLength)
    {
        if (payload.Length < PieceBytes) throw ShardException.Invalid($"piece frame of {payload.Length} bytes has no piece ({PieceBytes} bytes)");
        var piece = new PieceRange(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload),
            System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload[4..]));
        piece.Validate(shardLength);
        return piece;
    }

    /// <summary>The Push frame header for <paramref name="push"/> with <paramref name="payloadBytes"/> of values.</summary>
    public static FrameHeader PushFrame(in PushHeader push, int payloadBytes, TensorEncoding encoding)
    {
        var header = FrameHeader.Of(FrameKind.Push);
        header.Step = push.Step;
        header.Worker = push.WorkerId;
        header.Shard = push.Shard;
        header.Count = push.SampleCount;
        header.Loss = push.LossSum;
        header.Length = payloadBytes;
        header.Flags |= FlagOf(encoding);
        if (push.Piece is not null) header.Flags |= FrameFlags.Piece;
        if (push.CodeRow is { } row) (header.Part, header.Flags) = (row, header.Flags | FrameFlags.CodeRow);
        else if (push.Partition is { } partition) (header.Part, header.Flags) = (partition, header.Flags | FrameFlags.Partition);
        return header;
    }

    /// <summary>The push a Push frame header describes.</summary>
    /// <exception cref="ShardException">InvalidRequest: both a code row and a partition are flagged.</exception>
    public static PushHeader PushOf(in FrameHeader header)
    {
        if ((header.Flags & (FrameFlags.CodeRow | FrameFlags.Partition)) == (FrameFlags.CodeRow | FrameFlags.Partition))
            throw ShardException.Invalid("push frame flags both a code row and a partition");
        return new PushHeader(header.Worker, header.Step, header.Shard, header.Count, header.Loss,
            header.Flags.HasFlag(FrameFlags.CodeRow) ? header.Part : null,
            header.Flags.HasFlag(FrameFlags.Partition) ? header.Part : null);
    }

    /// <summary>The encoding of a Push frame's values, or of a PullReply's delta (float32: the parameters in full).</summary>
    /// <exception cref="ShardException">InvalidRequest: more than one encoding is flagged.</exception>
    public static TensorEncoding EncodingOf(in FrameHeader header)
    {
        var flagged = header.Flags & (FrameFlags.BFloat16 | FrameFlags.Sparse | FrameFlags.Sign);
        return flagged switch
        {
            FrameFlags.None => TensorEncoding.Float32,
            FrameFlags.BFloat16 => TensorEncoding.BFloat16,
            FrameFlags.Sparse => TensorEncoding.Sparse,
            FrameFlags.Sign => TensorEncoding.Sign,
            _ => throw ShardException.Invalid($"{header.Kind} frame flags more than one encoding ({flagged})"),
        };
    }

    /// <summary>The flag that marks <paramref name="encoding"/> (none for float32).</summary>
    public static FrameFlags FlagOf(TensorEncoding encoding) => encoding switch
    {
        TensorEncoding.BFloat16 => FrameFlags.BFloat16,
        TensorEncoding.Sparse => FrameFlags.Sparse,
        TensorEncoding.Sign => FrameFlags.Sign,
        _ => FrameFlags.None,
    };

    /// <summary>
    /// A PullReply header for <paramref name="pulled"/> whose payload is <paramref name="length"/> bytes of parameters
    /// starting at the pull's offset (in <c>Count</c>), flagged when the job finished.
    /// </summary>
    public static FrameHeader PullReplyFrame(in PullResult pulled, int length)
    {
        var header = FrameHeader.Of(FrameKind.PullReply);
        (header.Step, header.Shard, header.Count, header.Length) = (pulled.Step, pulled.Shard, pulled.Offset, length);
        if (pulled.Finished) header.Flags |= FrameFlags.Finished;
        return header;
    }

    /// <summary>
    /// What a PullReply header says (<see cref="PullReplyFrame"/>'s inverse): its step, shard, offset, the job's end and the
    /// copy's version (<c>Part</c>), for <paramref name="length"/> parameters in <paramref name="encoding"/>.
    /// </summary>
    public static PullResult PullResultOf(in FrameHeader reply, int length, TensorEncoding encoding = TensorEncoding.Float32) =>
        new(reply.Step, reply.Shard, reply.Count, length, reply.Flags.HasFlag(FrameFlags.Finished), reply.Part, encoding);

    /// <summary>A PushReply header for <paramref name="outcome"/>; its payload is the reason (<see cref="WriteMessage"/>).</summary>
    public static FrameHeader PushReplyFrame(in PushOutcome outcome, int shard)
    {
        var header = FrameHeader.Of(FrameKind.PushReply);
        header.Step = outcome.Step;
        header.Shard = shard;
        header.Part = (int)outcome.Kind;
        if (outcome.ClosedStep) header.Flags |= FrameFlags.ClosedStep;
        if (outcome.JobFinished) header.Flags |= FrameFlags.Finished;
        return header;
    }

    /// <summary>The outcome a PushReply frame carries, with its reason.</summary>
    /// <exception cref="ShardException">InvalidRequest: the outcome kind is unknown.</exception>
    public static PushOutcome OutcomeOf(in FrameHeader header, string reason)
    {
        var kind = (PushOutcomeKind)header.Part;
        if (!Enum.IsDefined(kind)) throw ShardException.Invalid($"push reply names unknown outcome {header.Part}");
        return new PushOutcome(kind, header.Step, header.Flags.HasFlag(FrameFlags.ClosedStep), header.Flags.HasFlag(FrameFlags.Finished), reason);
    }

    /// <summary>An Error header for <paramref name="kind"/>; its payload is the message (<see cref="WriteMessage"/>).</summary>
    public static FrameHeader ErrorFrame(ShardErrorKind kind, int shard)
    {
        var header = FrameHeader.Of(FrameKind.Error);
        header.Shard = shard;
        header.Part = (int)kind;
        return header;
    }

    /// <summary>
    /// The failure an Error frame carries, as the client throws it: <paramref name="address"/> prefixes the message, as
    /// <see cref="WireStatus.FromRpc"/> does; an unknown kind is reported as Unavailable (a newer server).
    /// </summary>
    public static ShardException ErrorOf(in FrameHeader header, string message, string address)
    {
        var kind = (ShardErrorKind)header.Part;
        return Enum.IsDefined(kind)
            ? new ShardException(kind, $"{address}: {message}")
            : new ShardException(ShardErrorKind.Unavailable, $"{address}: error {header.Part}: {message}");
    }

    /// <summary>
    /// Writes <paramref name="text"/> as UTF-8 into <paramref name="destination"/> (at least <see cref="MaxMessageBytes"/>
    /// long), cut to <see cref="MaxMessageBytes"/> at a character boundary; returns the bytes written. Allocates nothing.
    /// </summary>
    public static int WriteMessage(string text, Span<byte> destination)
    {
        // Stops at the last whole character that fits when the text is longer.
        Utf8.FromUtf16(text, destination[..MaxMessageBytes], out _, out var written);
        return written;
    }
}
