using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GpuPs.Core.Compression;

/// <summary>
/// Finds the k values of largest magnitude in a vector, exactly (ties go to the lower index), in about one SIMD pass:
/// a threshold from a strided sample is set so that about 2k values pass it, one vectorized pass collects the candidates
/// at or above it (8 values compared at a time; with k = 1 % of n, 9 in 10 vectors have none and are skipped), and only
/// the candidates are sorted. When the sample misjudged and fewer than k pass, every value is a candidate (still exact).
/// Keeps its scratch between calls; one instance per caller, not thread-safe.
/// </summary>
public sealed class TopKSelector
{
    private const int SampleSize = 4096;
    private ulong[] _keys = [];
    private float[] _sample = [];

    /// <summary>
    /// Writes into <paramref name="indices"/> the indices of the <paramref name="k"/> values of <paramref name="values"/>
    /// with the largest magnitude, in ascending order, and returns how many it wrote (min(k, n)). NaN counts as the
    /// largest magnitude, so a non-finite gradient is sent (and refused by the shard) rather than hidden in a residual.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="indices"/> holds fewer than min(k, n) entries.</exception>
    public int Select(ReadOnlySpan<float> values, int k, Span<int> indices)
    {
        int n = values.Length;
        k = Math.Clamp(k, 0, n);
        if (indices.Length < k) throw new ArgumentException($"room for {indices.Length} indices, {k} needed", nameof(indices));
        if (k == n)
        {
            for (int i = 0; i < n; i++) indices[i] = i;
            return n;
        }
        if (k == 0) return 0;
        int candidates = Collect(values, Threshold(values, k));
        if (candidates < k) candidates = Collect(values, 0f);   // the sample misjudged: every value is a candidate
        var keys = _keys.AsSpan(0, candidates);
        keys.Sort();
        for (int i = 0; i < k; i++) indices[i] = (int)(uint)keys[i];
        indices[..k].Sort();
        return k;
    }

    /// <summary>A magnitude about 2k of the n values reach, from a strided sample of <see cref="SampleSize"/>.</summary>
    private float Threshold(ReadOnlySpan<float> values, int k)
    {
        int n = values.Length;
        double share = 2.0 * k / n;
        if (share >= 1 || n <= SampleSize) return 0f;
        if (_sample.Length < SampleSize) _sample = new float[SampleSize];
        int stride = n / SampleSize;
        for (int i = 0; i < SampleSize; i++) _sample[i] = MathF.Abs(values[i * stride]);
        var sample = _sample.AsSpan(0, SampleSize);
        sample.Sort();
        return sample[(int)((1 - share) * SampleSize)];
    }

    /// <summary>Keys (magnitude descending, then index) of every value whose magnitude is at least <paramref name="threshold"/> (NaN too).</summary>
    private int Collect(ReadOnlySpan<float> values, float threshold)
    {
        int n = values.Length, count = 0, i = 0;
        if (_keys.Length < n) _keys = new ulong[Math.Max(n, 16)];
        var keys = _keys;
        ref float start = ref MemoryMarshal.GetReference(values);
        if (Vector256.IsHardwareAccelerated)
        {
            var limit = Vector256.Create(threshold);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var magnitude = Vector256.Abs(Vector256.LoadUnsafe(ref start, (nuint)i));
                // NaN fails every comparison: it is a candidate when it is not below the limit.
                if (Vector256.LessThanAll(magnitude, limit)) continue;
                for (int j = i; j < i + Vector256<float>.Count; j++) Add(keys, ref count, values[j], j, threshold);
            }
        }
        for (; i < n; i++) Add(keys, ref count, values[i], i, threshold);
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(ulong[] keys, ref int count, float value, int index, float threshold)
    {
        float magnitude = MathF.Abs(value);
        if (magnitude < threshold) return;
        // A non-negative float's bits order as its value (NaN above +Inf): inverted, an ascending sort puts the largest first.
        uint bits = BitConverter.SingleToUInt32Bits(magnitude);
        keys[count++] = ((ulong)(uint.MaxValue - bits) << 32) | (uint)index;
    }
}
