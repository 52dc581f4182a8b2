using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Worker.Transport;

/// <summary>
/// The data plane to one parameter shard: tensors move between the shard and the caller's memory. gRPC is one
/// implementation (<see cref="GrpcShardClient"/>); a faster plane (framed TCP, shared memory) is another, behind the
/// same contract, without touching training logic.
/// </summary>
/// <remarks>
/// Contract: every call has a deadline (<c>timeout</c>, else the channel's default) and honours cancellation.
/// Failures are domain errors: <see cref="ShardException"/> (its <see cref="ShardException.IsTransient"/> says whether a
/// retry can help; <see cref="ShardErrorKind.Timeout"/> when the deadline passed) or
/// <see cref="OperationCanceledException"/>. Calls are thread-safe; a pull and a push may run concurrently.
/// </remarks>
public interface ITensorChannel
{
    /// <summary>
    /// Waits until the shard reaches <paramref name="minStep"/> (for worker <paramref name="workerId"/>; -1 for an
    /// observer), then copies its parameters into <paramref name="destination"/>, which must be exactly the shard's length.
    /// </summary>
    Task<PullResult> PullAsync(int workerId, long minStep, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null);

    /// <summary>
    /// A worker's pull that may come back compressed: it names the version of the copy of the shard the worker holds
    /// (<paramref name="viewVersion"/>; 0: none). A server with compressed pulls fills <paramref name="destination"/> with
    /// the delta to that copy and says so in <see cref="PullResult.Encoding"/> and <see cref="PullResult.ViewVersion"/>;
    /// otherwise it is the parameters. A channel that cannot carry compressed pulls pulls in full (the default).
    /// </summary>
    Task<PullResult> PullAsync(int workerId, long minStep, long viewVersion, Memory<float> destination, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        PullAsync(workerId, minStep, destination, cancellationToken, timeout);

    /// <summary>
    /// As <see cref="PullAsync(int, long, Memory{float}, CancellationToken, TimeSpan?)"/>, for one piece of the shard: copies its values <c>[piece.Offset, piece.End)</c> into
    /// <paramref name="destination"/> (exactly <c>piece.Length</c> long); the result's offset is the piece's first key in
    /// the full vector. The default pulls the whole shard and copies the piece (for channels without piece pulls).
    /// </summary>
    async Task<PullResult> PullPieceAsync(int workerId, long minStep, PieceRange piece, Memory<float> destination, int shardLength,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var whole = new float[shardLength];
        var result = await PullAsync(workerId, minStep, whole, cancellationToken, timeout).ConfigureAwait(false);
        whole.AsMemory(piece.Offset, piece.Length).CopyTo(destination);
        return result with { Offset = result.Offset + piece.Offset, Length = piece.Length };
    }

    /// <summary>
    /// Pushes one gradient for the whole shard. A push the shard's rule refuses is an answer, not an error: it comes back
    /// as a <see cref="PushOutcome"/> that is not applied. <paramref name="gradient"/> must not change until the task completes.
    /// With <see cref="TensorEncoding.BFloat16"/> each value travels rounded to the nearest bfloat16 (half the bytes).
    /// With <see cref="PushHeader.Piece"/> set, <paramref name="gradient"/> is that piece of the shard alone: the shard
    /// answers Applied (not closed) until it holds every piece of the push, and the piece that completes it gets the
    /// answer to the whole push.
    /// </summary>
    Task<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradient, CancellationToken cancellationToken, TimeSpan? timeout = null,
        TensorEncoding encoding = TensorEncoding.Float32);

    /// <summary>Whether <see cref="PushPullAsync"/> brings the pull back in the same call (false: it only pushes).</summary>
    bool FusesPushPull => false;

    /// <summary>
    /// Pushes one gradient (as <see cref="PushAsync"/>) and, where the plane can fuse them (the TCP data plane: one round
    /// trip), pulls worker <paramref name="header"/>'s parameters once the shard reached <paramref name="minStep"/> into
    /// <paramref name="destination"/> in the same call. A plane that cannot fuse only pushes (the default), and so does any
    /// plane for a push that was not applied: then <see cref="FusedPushPull.Pull"/> is null and the caller pulls itself.
    /// The pull is always in full (compressed pulls need their copy's version: pull those separately).
    /// </summary>
    async Task<FusedPushPull> PushPullAsync(PushHeader header, ReadOnlyMemory<float> gradient, long minStep, Memory<float> destination,
        CancellationToken cancellationToken, TimeSpan? timeout = null, TensorEncoding encoding = TensorEncoding.Float32) =>
        new(await PushAsync(header, gradient, cancellationToken, timeout, encoding).ConfigureAwait(false), System.Diagnostics.Stopwatch.GetTimestamp(), null);
}
