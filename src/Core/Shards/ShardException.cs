namespace GpuPs.Core.Shards;

/// <summary>
/// A failed shard request, in domain terms: the shard throws it for a request it cannot serve (and changes nothing), a
/// transport throws it for a call that failed on the way. The transport edge is the only place that knows wire codes.
/// </summary>
public sealed class ShardException(ShardErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>What went wrong; a transport maps it to and from its status codes.</summary>
    public ShardErrorKind Kind { get; } = kind;

    /// <summary>The same call may succeed later (the shard was unreachable); every other kind is an answer.</summary>
    public bool IsTransient => Kind == ShardErrorKind.Unavailable;

    /// <summary>A malformed request (<see cref="ShardErrorKind.InvalidRequest"/>).</summary>
    public static ShardException Invalid(string message) => new(ShardErrorKind.InvalidRequest, message);
}
