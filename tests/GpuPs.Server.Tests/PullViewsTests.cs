using GpuPs.Core.Compression;
using GpuPs.Protocol;
using GpuPs.Server.Compression;

namespace GpuPs.Server.Tests;

/// <summary>
/// Compressed pulls on the server: the record of each worker's copy stays bit-identical to the copy the worker rebuilds
/// from the deltas, the delta drains to the exact parameters, and a pull gets them in full whenever the versions disagree,
/// every N-th pull and at the end of the job.
/// </summary>
public class PullViewsTests
{
    private static float[] Random(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(CompressionKind.TopK)]
    [InlineData(CompressionKind.Sign)]
    public void A_worker_rebuilding_its_copy_from_the_deltas_holds_what_the_server_recorded_and_ends_exact(CompressionKind kind)
    {
        const int n = 3000;
        var views = new PullViews(workers: 2, new CompressionSettings(Pull: kind, TopKRatio: 0.1, FullPullEvery: 1000));
        var parameters = Random(n, 1);
        var worker = new float[n];
        var reply = new float[n];

        var (version, encoding) = views.Serve(1, 0, parameters, finished: false, reply);
        Assert.Equal((1L, TensorEncoding.Float32), (version, encoding));
        reply.CopyTo(worker);
        for (int pull = 0; pull < 30; pull++)
        {
            var update = Random(n, pull + 2);
            for (int i = 0; i < n; i++) parameters[i] += 0.01f * update[i];
            (version, encoding) = views.Serve(1, version, parameters, finished: false, reply);
            Assert.NotEqual(TensorEncoding.Float32, encoding);
            var encoded = new byte[TensorCodec.EncodedBytes(encoding, reply)];
            TensorCodec.Encode(encoding, reply, encoded);   // what travels carries the delta exactly
            var decoded = new float[n];
            TensorCodec.Decode(encoding, encoded, decoded);
            for (int i = 0; i < n; i++) worker[i] += decoded[i];
        }
        Assert.NotEqual(parameters, worker);   // behind, by what the rounding kept back

        // The server's record of the copy is the worker's copy, bit for bit: another delta is computed against it, and
        // once the parameters stop moving a run of deltas (top-k) or the final full pull (sign) brings the worker to them.
        for (int pull = 0; pull < 15; pull++)
        {
            (version, encoding) = views.Serve(1, version, parameters, finished: false, reply);
            for (int i = 0; i < n; i++) worker[i] += reply[i];
        }
        if (kind == CompressionKind.TopK) Assert.Equal(parameters, worker);
        (_, encoding) = views.Serve(1, version, parameters, finished: true, reply);
        Assert.Equal(TensorEncoding.Float32, encoding);
        Assert.Equal(parameters, reply);
    }

    [Fact]
    public void A_pull_naming_another_version_and_every_nth_pull_get_the_parameters_in_full()
    {
        var views = new PullViews(workers: 1, new CompressionSettings(Pull: CompressionKind.TopK, FullPullEvery: 3));
        var parameters = Random(100, 9);
        var reply = new float[100];
        var (v1, e1) = views.Serve(0, 0, parameters, false, reply);
        var (v2, e2) = views.Serve(0, v1, parameters, false, reply);
        var (v3, e3) = views.Serve(0, v2, parameters, false, reply);
        var (v4, e4) = views.Serve(0, v3, parameters, false, reply);   // the third since the full one: full again
        var (v5, e5) = views.Serve(0, v4 - 1, parameters, false, reply);   // a reply the worker never got
        Assert.Equal([1L, 2, 3, 4, 5], new[] { v1, v2, v3, v4, v5 });
        Assert.Equal([TensorEncoding.Float32, TensorEncoding.Sparse, TensorEncoding.Sparse, TensorEncoding.Float32, TensorEncoding.Float32], new[] { e1, e2, e3, e4, e5 });
        Assert.Equal(parameters, reply);
    }

    [Fact]
    public void A_copy_started_as_the_shared_start_gets_deltas_from_its_first_pull_and_every_nth_pull_in_full()
    {
        var views = new PullViews(workers: 2, new CompressionSettings(Pull: CompressionKind.TopK, FullPullEvery: 3));
        var start = Random(100, 9);
        var parameters = (float[])start.Clone();
        var reply = new float[100];
        long version = views.Start(1, start);
        var encodings = new List<TensorEncoding>();
        for (int pull = 0; pull < 5; pull++)
        {
            TensorEncoding encoding;
            (version, encoding) = views.Serve(1, version, parameters, false, reply);
            encodings.Add(encoding);
        }
        // The first pull, which came in full, is a delta; the full ones keep their places: the 4th (1 + N), as after a
        // first full pull (the test above).
        Assert.Equal([TensorEncoding.Sparse, TensorEncoding.Sparse, TensorEncoding.Sparse, TensorEncoding.Float32, TensorEncoding.Sparse], encodings);
        Assert.Equal(6, version);
        Assert.Equal(1, views.Start(0, start));   // per worker

        var everyPull = new PullViews(workers: 1, new CompressionSettings(Pull: CompressionKind.TopK, FullPullEvery: 1));
        Assert.Equal(TensorEncoding.Float32, everyPull.Serve(0, everyPull.Start(0, start), parameters, false, reply).Encoding);
    }
}
