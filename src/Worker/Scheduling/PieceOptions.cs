namespace GpuPs.Worker.Scheduling;

/// <summary>
/// Tensor partitioning with priorities and credit-based flow control (ByteScheduler) for a worker's pushes and pulls:
/// each shard's tensor moves as pieces of at most <see cref="PieceFloats"/> values, cut at layer boundaries, sent first
/// layer first, with at most <see cref="CreditBytes"/> bytes in flight per link and direction (worker → shard for
/// pushes, shard → worker for pulls). With the round-robin schedule, pushes still start at the worker's slot, so a
/// server link carries at most credit × push concurrency.
/// </summary>
/// <param name="PieceFloats">Values per piece; 0: tuned from the link (starting at <see cref="StartPieceFloats"/>).</param>
/// <param name="CreditBytes">Bytes in flight per link; 0: tuned from the link's rate × round trip (starting at four pieces).</param>
public sealed record PieceOptions(int PieceFloats = 0, long CreditBytes = 0)
{
    /// <summary>Starting piece before the first measurement: 256 Ki values (1 MiB of float32), ByteScheduler's order of magnitude.</summary>
    public const int StartPieceFloats = 256 << 10;

    /// <summary>Throws <see cref="ArgumentException"/> for a negative size.</summary>
    public void Validate()
    {
        if (PieceFloats < 0) throw new ArgumentException($"piece size must be positive, or 0 for auto (got {PieceFloats})");
        if (CreditBytes < 0) throw new ArgumentException($"credit must be positive, or 0 for auto (got {CreditBytes} bytes)");
    }
}
