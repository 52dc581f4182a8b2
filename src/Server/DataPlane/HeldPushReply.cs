using System.Diagnostics;
using System.IO.Hashing;
using GpuPs.Core.Shards;
using GpuPs.Protocol.Frames;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// The PushReply of an applied fused push (a PushPull frame), held until its pull is answered so that both frames go out
/// in one write and the worker wakes once per step instead of twice. The reply's <c>count</c> says how long it was held,
/// in microseconds, so the worker's timeline still splits the push from the wait for the step.
/// </summary>
/// <param name="Header">The PushReply header of the outcome.</param>
/// <param name="Reason">The outcome's reason, its payload.</param>
/// <param name="AppliedAt">When the push was applied (<see cref="Stopwatch.GetTimestamp"/>).</param>
public readonly record struct HeldPushReply(FrameHeader Header, string Reason, long AppliedAt)
{
    /// <summary>The most bytes <see cref="WriteTo"/> writes.</summary>
    public const int MaxBytes = FrameHeader.Size + FrameAnswers.MaxMessageBytes;

    /// <summary>Holds the answer to <paramref name="outcome"/>, applied now, of shard <paramref name="shard"/>.</summary>
    public static HeldPushReply Of(in PushOutcome outcome, int shard) =>
        new(FrameAnswers.PushReplyFrame(outcome, shard), outcome.Reason, Stopwatch.GetTimestamp());

    /// <summary>Writes the reply, its held time in <c>count</c>, sealed with <paramref name="hash"/>; returns its bytes.</summary>
    public int WriteTo(Span<byte> destination, XxHash3 hash)
    {
        var header = Header;
        header.Count = (long)Stopwatch.GetElapsedTime(AppliedAt).TotalMicroseconds;
        var payload = destination[FrameHeader.Size..];
        header.Length = FrameAnswers.WriteMessage(Reason, payload);
        header.Seal(hash, payload[..header.Length]);
        header.WriteTo(destination);
        return FrameHeader.Size + header.Length;
    }
}
