using System.Numerics.Tensors;
using GpuPs.Core.Compression;
using GpuPs.Protocol;

namespace GpuPs.Server.Compression;

/// <summary>
/// The server's side of compressed pulls: a record, per worker, of the copy of the shard that worker holds, with a
/// version. A pull naming the version the server holds gets the delta between the parameters and that copy, rounded by
/// the job's compressor (top-k or sign), and the record takes the same delta with the same float32 additions the worker
/// makes, so the two copies stay identical. What the rounding leaves out stays in the difference and goes with a later
/// pull: a residual kept per worker, implicitly (error feedback on the pull side). Per worker, not shared: a worker that
/// misses pulls (a straggler, a restart) is brought up to date by its own next deltas, and a lost reply costs one full
/// pull. A worker that registers while the shard still holds its start gets its record set to that start
/// (<see cref="Start"/>), so its first pull is a delta too. A pull gets the parameters in full when it names another version (a lost reply, a restarted server), every
/// <see cref="CompressionSettings.FullPullEvery"/>-th pull of a worker, and once the job has finished, so every worker
/// ends with the exact model. Costs a shard's length in floats per worker that pulls. Not thread-safe: the shard calls
/// it under its lock.
/// </summary>
/// <param name="workers">Workers of the job.</param>
/// <param name="settings">The job's compression (its <see cref="CompressionSettings.Pull"/> is not none).</param>
public sealed class PullViews(int workers, CompressionSettings settings)
{
    private readonly TensorCompressor _compressor = new(settings.Pull, settings);
    private readonly float[]?[] _copies = new float[workers][];
    private readonly long[] _versions = new long[workers];
    private readonly int[] _sinceFull = new int[workers];

    /// <summary>
    /// Records worker <paramref name="workerId"/>'s copy as <paramref name="start"/> (the shard's parameters while they are
    /// still the job's seeded start, which the worker derives itself) and returns the copy's new version: the worker's
    /// next pull naming it gets a delta. That first pull is the one that came in full before; the full pulls after it
    /// keep their places (the worker's pulls N + 1, 2N + 1, … for <see cref="CompressionSettings.FullPullEvery"/> N).
    /// </summary>
    public long Start(int workerId, ReadOnlySpan<float> start)
    {
        start.CopyTo(_copies[workerId] ??= new float[start.Length]);
        // The first pull counts 0, as a full first pull did; with N = 1 every pull is in full, the first too.
        _sinceFull[workerId] = settings.FullPullEvery > 1 ? -1 : 0;
        return ++_versions[workerId];
    }

    /// <summary>
    /// Fills <paramref name="destination"/> for worker <paramref name="workerId"/>'s pull: the delta to its copy of
    /// version <paramref name="viewVersion"/>, rounded to the compressed encoding, or <paramref name="parameters"/> in
    /// full; returns the copy's new version and which of the two it is (float32: in full).
    /// </summary>
    public (long Version, TensorEncoding Encoding) Serve(int workerId, long viewVersion, ReadOnlySpan<float> parameters, bool finished, Span<float> destination)
    {
        var copy = _copies[workerId] ??= new float[parameters.Length];
        bool full = viewVersion == 0 || viewVersion != _versions[workerId] || finished || ++_sinceFull[workerId] >= settings.FullPullEvery;
        _versions[workerId]++;
        if (full)
        {
            _sinceFull[workerId] = 0;
            parameters.CopyTo(copy);
            parameters.CopyTo(destination);
            return (_versions[workerId], TensorEncoding.Float32);
        }
        TensorPrimitives.Subtract(parameters, copy, destination);
        _compressor.Round(destination);
        TensorPrimitives.Add(copy, destination, copy);
        return (_versions[workerId], _compressor.Encoding);
    }
}
