using System.Numerics;
using System.Numerics.Tensors;

namespace GpuPs.Core.Tensors;

/// <summary>
/// The server's aggregation kernels: SIMD (<see cref="TensorPrimitives"/>) split over the machine's cores for large
/// tensors. Measured on 2 cores, 4 MiB gradient: one core's TensorPrimitives.Add runs at ~9 GB/s, 0.29× a memcpy of the
/// same bytes; a shard sums under its lock, so using every core both raises throughput and shortens the time other
/// pushes wait. Below <see cref="MinParallelLength"/> one core is faster than the hand-off.
/// </summary>
public static class ParallelTensor
{
    /// <summary>64K floats: one core adds them in ~25 µs, about what scheduling work onto another core costs.</summary>
    public const int MinParallelLength = 1 << 16;

    /// <summary><c>accumulator += values</c>.</summary>
    public static void Add(Span<float> accumulator, ReadOnlySpan<float> values) => MultiplyAdd(accumulator, values, 1f);

    /// <summary><c>accumulator += scale · values</c>.</summary>
    public static unsafe void MultiplyAdd(Span<float> accumulator, ReadOnlySpan<float> values, float scale) =>
        InParts(accumulator, values, scale, &AddScaled);

    /// <summary>
    /// <c>accumulator += scale · values</c> in float64: the coded decode Σ a_i c_i, whose weights reach ~30 for cyclic-MDS
    /// codes, so float32 partial sums would add rounding comparable to the encoding error the codes are checked for.
    /// </summary>
    public static unsafe void MultiplyAddWidening(Span<double> accumulator, ReadOnlySpan<float> values, double scale) =>
        InParts(accumulator, values, scale, &AddScaledWidening);

    /// <summary>Runs <paramref name="kernel"/> on the whole tensors, or on one contiguous part per core when they are large.</summary>
    private static unsafe void InParts<TAccumulator, TScale>(Span<TAccumulator> accumulator, ReadOnlySpan<float> values, TScale scale,
        delegate*<Span<TAccumulator>, ReadOnlySpan<float>, TScale, void> kernel)
        where TAccumulator : unmanaged
    {
        if (accumulator.Length != values.Length)
            throw new ArgumentException($"cannot add {values.Length} values into {accumulator.Length}");
        int parts = Math.Min(Environment.ProcessorCount, accumulator.Length / MinParallelLength);
        if (parts <= 1)
        {
            kernel(accumulator, values, scale);
            return;
        }
        fixed (TAccumulator* acc = accumulator)
        fixed (float* val = values)
        {
            nint a = (nint)acc, v = (nint)val, k = (nint)kernel;
            int length = accumulator.Length, chunk = (length + parts - 1) / parts;
            Parallel.For(0, parts, part =>
            {
                int start = part * chunk, count = Math.Min(chunk, length - start);
                ((delegate*<Span<TAccumulator>, ReadOnlySpan<float>, TScale, void>)k)(
                    new Span<TAccumulator>((TAccumulator*)a + start, count), new ReadOnlySpan<float>((float*)v + start, count), scale);
            });
        }
    }

    /// <summary><c>destination = (float)source</c>, rounding to nearest.</summary>
    public static void Narrow(Span<float> destination, ReadOnlySpan<double> source)
    {
        if (destination.Length != source.Length)
            throw new ArgumentException($"cannot narrow {source.Length} values into {destination.Length}");
        TensorPrimitives.ConvertTruncating<double, float>(source, destination);
    }

    private static void AddScaledWidening(Span<double> accumulator, ReadOnlySpan<float> values, double scale)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var factor = new Vector<double>(scale);
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(values[i..]), out var low, out var high);
                var accLow = new Vector<double>(accumulator[i..]);
                var accHigh = new Vector<double>(accumulator[(i + Vector<double>.Count)..]);
                (accLow + low * factor).CopyTo(accumulator[i..]);
                (accHigh + high * factor).CopyTo(accumulator[(i + Vector<double>.Count)..]);
            }
        }
        for (; i < values.Length; i++) accumulator[i] += scale * values[i];
    }

    private static void AddScaled(Span<float> accumulator, ReadOnlySpan<float> values, float scale)
    {
        if (scale == 1f) TensorPrimitives.Add(accumulator, values, accumulator);
        else TensorPrimitives.MultiplyAdd(values, scale, accumulator, accumulator);
    }
}
