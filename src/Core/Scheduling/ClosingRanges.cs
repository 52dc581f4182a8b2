using GpuPs.Core.Models;
using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Scheduling;

/// <summary>
/// The key ranges a shard closes one by one (P3's per-slice synchronisation): the job's piece plan
/// (<see cref="PiecePlan"/> at <see cref="TrainingJob.PieceFloats"/>, cut at layer boundaries), the same for the shard
/// and every worker, since both derive it from the job they agreed on at registration. A worker pushes and pulls exactly
/// these pieces; the shard keeps one accumulator per range and applies a range's update when every expected worker's piece
/// of it is in, so the pull of one range overlaps the pushes of the next.
/// </summary>
public static class ClosingRanges
{
    /// <summary>
    /// The ranges of shard <paramref name="shard"/> (offsets within it, in key order, which is priority order), or null
    /// when the shard closes whole steps: the job has no piece size, its mode does not close per range
    /// (<see cref="Modes.ISyncMode.ClosesPerRange"/>), or it compresses pulls (a compressed pull is a delta of the whole
    /// shard against the worker's copy, not a range).
    /// </summary>
    public static IReadOnlyList<PieceRange>? Of(TrainingJob job, ShardInfo shard)
    {
        if (!ClosePerRange(job)) return null;
        var layerStarts = ModelLayer.Of(job.Model).Select(l => (long)l.Offset).ToArray();
        var ranges = PiecePlan.Of(shard.Offset, (int)shard.Length, layerStarts, job.PieceFloats).Select(p => p.Range).ToArray();
        return ranges.Length > 1 ? ranges : null;
    }

    /// <summary>Whether <paramref name="job"/>'s shards close per range (given a shard longer than one piece).</summary>
    public static bool ClosePerRange(TrainingJob job) =>
        job.PieceFloats > 0 && job.Mode.ClosesPerRange && job.Compression.Pull == Compression.CompressionKind.None;
}
