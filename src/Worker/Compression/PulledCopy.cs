using System.Numerics.Tensors;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Compression;

/// <summary>
/// A worker's copy of one shard for compressed pulls: each pull names the copy's version, and a server that compresses
/// pulls answers with the delta to it (or the parameters in full); the copy takes the delta with the same float32
/// additions the server made to its own record of the copy, so both stay identical, and the caller gets the copy.
/// A delta that does not follow this copy's version (a reply lost on the way, a restarted server) is refused as a
/// transient failure with the version reset, so the retry pulls in full. A server without compressed pulls answers
/// version 0: nothing is kept. At registration the copy starts as the job's seeded start when the server offers it
/// (<see cref="Start"/>), else empty (<see cref="Reset"/>: the first pull is in full). Thread-safe.
/// </summary>
public sealed class PulledCopy
{
    private readonly object _gate = new();
    private float[]? _copy;
    private long _version;
    private long _bytes;

    /// <summary>Bytes the pulls carried (the encoded delta, or 4 a value in full), fused ones and pieces included (<see cref="CountInFull"/>).</summary>
    public long BytesPulled => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Takes <paramref name="start"/> as the copy of version <paramref name="version"/>: the server's record of this
    /// worker's copy after registration (proto <c>RegisterReply.start_view_version</c>), bit-identical by its hash.
    /// </summary>
    public void Start(ReadOnlySpan<float> start, long version)
    {
        lock (_gate) (_copy, _version) = (start.ToArray(), version);
    }

    /// <summary>Forgets the copy (a registration without a start offered): the next pull names version 0 and comes in full.</summary>
    public void Reset()
    {
        lock (_gate) (_copy, _version) = (null, 0);
    }

    /// <summary>
    /// Counts a pull that did not go through the copy into <paramref name="destination"/>: one that came back with a push
    /// (<see cref="ITensorChannel.PushPullAsync"/>) or one piece of a pull in pieces. Always in full (neither is compressed).
    /// </summary>
    public void CountInFull(PullResult result, ReadOnlySpan<float> destination) =>
        Interlocked.Add(ref _bytes, TensorCodec.EncodedBytes(result.Encoding, destination));

    /// <summary>Pulls through <paramref name="channel"/> into <paramref name="destination"/> (the parameters, whatever came).</summary>
    /// <exception cref="ShardException">Unavailable: a delta that does not follow the copy (retry: it pulls in full).</exception>
    public async Task<PullResult> PullAsync(ITensorChannel channel, int workerId, long minStep, Memory<float> destination, CancellationToken ct, TimeSpan? timeout)
    {
        long version;
        lock (_gate) version = _version;
        var result = await channel.PullAsync(workerId, minStep, version, destination, ct, timeout).ConfigureAwait(false);
        lock (_gate)
        {
            Interlocked.Add(ref _bytes, TensorCodec.EncodedBytes(result.Encoding, destination.Span));
            if (result.ViewVersion == 0)
            {
                (_copy, _version) = (null, 0);
                return result;
            }
            if (!TensorCodec.IsCompressed(result.Encoding))
            {
                destination.Span.CopyTo(_copy ??= new float[destination.Length]);
                _version = result.ViewVersion;
                return result;
            }
            if (_copy is null || _copy.Length != destination.Length || result.ViewVersion != _version + 1)
            {
                var held = _version;
                _version = 0;
                throw new ShardException(ShardErrorKind.Unavailable,
                    $"shard {result.Shard} sent a delta to copy version {result.ViewVersion - 1}; this worker holds version {held}: pulling in full");
            }
            TensorPrimitives.Add(_copy, destination.Span, _copy);
            _copy.CopyTo(destination.Span);
            _version = result.ViewVersion;
            return result;
        }
    }
}
