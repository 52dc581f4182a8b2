using System.Buffers.Binary;
using GpuPs.Core.Shards;

namespace GpuPs.Protocol.Frames;

/// <summary>
/// The pull half of a <see cref="FrameKind.PushPull"/> frame: the first <see cref="Bytes"/> bytes of its payload, before
/// the pushed values, covered by the frame's checksum. Little-endian:
/// <code>
///  0               8        12         16
///  | min step i64  | wait ms i32 | reserved i32 (0) |
/// </code>
/// The pulling worker is the push's worker; the pull is always in full (a compressed pull needs its copy's version: such
/// workers push and pull separately).
/// </summary>
/// <param name="MinStep">The step the shard must reach before it answers (0: at once, as ASP/SSP pulls).</param>
/// <param name="WaitMilliseconds">How long the server waits for that step before answering Timeout (1 or more).</param>
public readonly record struct PushPullRequest(long MinStep, int WaitMilliseconds)
{
    /// <summary>Bytes of the request at the start of a PushPull payload.</summary>
    public const int Bytes = 16;

    /// <summary>Writes the request into the first <see cref="Bytes"/> bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, MinStep);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], WaitMilliseconds);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], 0);
    }

    /// <summary>Reads and checks the request at the start of a PushPull payload.</summary>
    /// <exception cref="ShardException">InvalidRequest: too short, a negative min step, a wait below 1 ms or a reserved field set.</exception>
    public static PushPullRequest Read(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Bytes)
            throw ShardException.Invalid($"PushPull frame of {payload.Length} payload bytes is shorter than its {Bytes}-byte pull request");
        var request = new PushPullRequest(BinaryPrimitives.ReadInt64LittleEndian(payload), BinaryPrimitives.ReadInt32LittleEndian(payload[8..]));
        if (request.MinStep < 0) throw ShardException.Invalid($"PushPull frame asks for min step {request.MinStep}: negative");
        if (request.WaitMilliseconds < 1) throw ShardException.Invalid($"PushPull frame asks to wait {request.WaitMilliseconds} ms: it must be 1 or more");
        if (BinaryPrimitives.ReadInt32LittleEndian(payload[12..]) != 0) throw ShardException.Invalid("PushPull frame sets its pull request's reserved field");
        return request;
    }
}
