using GpuPs.Protocol;

namespace GpuPs.Core.Scheduling;

/// <summary>One piece of a shard with its priority: lower goes first.</summary>
/// <param name="Range">The piece, within the shard.</param>
/// <param name="Layer">Index of the model layer (tensor) its first value belongs to: the forward pass needs layer 0 first,
/// so a piece's priority is its layer.</param>
public readonly record struct PlannedPiece(PieceRange Range, int Layer);

/// <summary>
/// How a shard's tensor is cut into pieces (ByteScheduler's tensor partitioning): pieces of at most
/// <c>pieceFloats</c> values, cut at the model's layer boundaries so that each piece belongs to one layer and can be sent
/// at that layer's priority. A layer's remainder shorter than a quarter piece is not sent alone (one more call for a few
/// bytes, a bias vector): it joins the next layer's first piece. Pieces are returned in key order, which is priority
/// order: the kernels lay the first layer out first (<see cref="Models.ModelLayer.Of"/>).
/// </summary>
public static class PiecePlan
{
    /// <summary>
    /// The pieces of the shard that holds <c>[shardOffset, shardOffset + shardLength)</c> of a vector whose layers start at
    /// <paramref name="layerStarts"/> (full-vector offsets, ascending, the first 0; a flat model has one layer).
    /// </summary>
    /// <param name="shardOffset">The shard's first key in the full vector.</param>
    /// <param name="shardLength">The shard's length; 0 gives no pieces.</param>
    /// <param name="layerStarts">Each layer's first key in the full vector.</param>
    /// <param name="pieceFloats">Largest piece, in values, ≥ 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pieceFloats"/> or a length is not positive.</exception>
    public static IReadOnlyList<PlannedPiece> Of(long shardOffset, int shardLength, IReadOnlyList<long> layerStarts, int pieceFloats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceFloats, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(shardLength);
        var pieces = new List<PlannedPiece>();
        int smallest = Math.Max(1, pieceFloats / 4);
        int start = 0;
        while (start < shardLength)
        {
            int layer = LayerOf(layerStarts, shardOffset + start);
            int end = (int)Math.Min(shardLength, (long)start + pieceFloats);
            // Cut at the next layer boundary inside the piece, unless that leaves a sliver (it then joins this piece's layer's neighbour).
            if (layer + 1 < layerStarts.Count && layerStarts[layer + 1] - shardOffset < end)
            {
                int boundary = (int)(layerStarts[layer + 1] - shardOffset);
                if (boundary - start >= smallest) end = boundary;
            }
            if (shardLength - end < smallest) end = shardLength;   // no sliver at the shard's end either
            pieces.Add(new PlannedPiece(new PieceRange(start, end - start), layer));
            start = end;
        }
        return pieces;
    }

    /// <summary>The layer that holds key <paramref name="key"/>: the last layer starting at or before it.</summary>
    private static int LayerOf(IReadOnlyList<long> layerStarts, long key)
    {
        int layer = 0;
        while (layer + 1 < layerStarts.Count && layerStarts[layer + 1] <= key) layer++;
        return layer;
    }
}
