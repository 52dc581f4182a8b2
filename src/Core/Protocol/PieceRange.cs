namespace GpuPs.Protocol;

/// <summary>
/// One piece of a shard's tensor: the values <c>[Offset, Offset + Length)</c> of the shard (offsets within the shard,
/// not the full vector). A push or pull split into pieces moves each piece as its own call; the server reassembles a
/// pushed gradient from its pieces before the shard sees it (proto fields <c>piece_offset</c>/<c>piece_length</c>, the
/// data plane's <see cref="Frames.FrameFlags.Piece"/>).
/// </summary>
/// <param name="Offset">First value of the piece within the shard, ≥ 0.</param>
/// <param name="Length">Values in the piece, ≥ 1.</param>
public readonly record struct PieceRange(int Offset, int Length)
{
    /// <summary>One past the piece's last value.</summary>
    public int End => Offset + Length;

    /// <summary>Checks that the piece lies inside a shard of <paramref name="shardLength"/> values and is not empty.</summary>
    /// <exception cref="Core.Shards.ShardException">InvalidRequest, naming the piece and the shard's length.</exception>
    public void Validate(int shardLength)
    {
        if (!IsWithin(shardLength))
            throw Core.Shards.ShardException.Invalid($"piece [{Offset}, {(long)Offset + Length}) is not a non-empty range of the shard's {shardLength} parameters");
    }

    /// <summary>Whether the piece lies inside a shard of <paramref name="shardLength"/> values and is not empty
    /// (<see cref="Validate"/> without the exception).</summary>
    public bool IsWithin(int shardLength) => Offset >= 0 && Length > 0 && (long)Offset + Length <= shardLength;

    /// <summary>The piece in words, for logs.</summary>
    public override string ToString() => $"[{Offset}, {End})";
}
