namespace GpuPs.Protocol;

/// <summary>The header fields of a pushed gradient (see <c>PushChunk</c> in proto/gpups.proto).</summary>
/// <param name="WorkerId">The pushing worker's id, 0..workers-1.</param>
/// <param name="Step">The step (parameter version) the gradient was computed at.</param>
/// <param name="Shard">Index of the shard the push is for; the client fills it in per shard.</param>
/// <param name="SampleCount">Rows behind the gradient sum; the shard divides by the total of what it combines.</param>
/// <param name="LossSum">Sum of the per-row losses, weighted like the gradient; for monitoring.</param>
/// <param name="CodeRow">Coded mode: the row of B the values were encoded with; null otherwise.</param>
/// <param name="Partition">Multi-message mode: the one data partition the values belong to; null otherwise.</param>
/// <param name="Contributors">A node aggregator's push: the workers it speaks for (the first is <paramref name="WorkerId"/>);
/// null for a worker's own push.</param>
/// <param name="Piece">A push split into pieces: the part of the shard these values are (the server applies the push
/// once it has every piece); null: the values are the whole shard.</param>
public readonly record struct PushHeader(int WorkerId, long Step, int Shard, long SampleCount, double LossSum, int? CodeRow = null, int? Partition = null,
    ContributorList? Contributors = null, PieceRange? Piece = null);

/// <summary>A pulled shard: its step, where it sits in the full vector, and whether the job is finished.</summary>
/// <param name="Step">The step of the parameters (updates applied).</param>
/// <param name="Shard">The shard's index.</param>
/// <param name="Offset">Where the shard starts in the full vector.</param>
/// <param name="Length">Values of the shard.</param>
/// <param name="Finished">The job has run all its steps.</param>
/// <param name="ViewVersion">
/// Compressed pulls: the version of the worker's copy of the shard the values bring it to (0: the server keeps no copy).
/// </param>
/// <param name="Encoding">
/// Compressed pulls: float32 when the values are the parameters in full; sparse or sign when they are the delta, rounded
/// to that encoding, to add to the worker's copy of version <paramref name="ViewVersion"/> − 1.
/// </param>
public readonly record struct PullResult(long Step, int Shard, long Offset, int Length, bool Finished, long ViewVersion = 0,
    TensorEncoding Encoding = TensorEncoding.Float32);
