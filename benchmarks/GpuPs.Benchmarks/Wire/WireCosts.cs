using System.Buffers;
using System.Diagnostics;
using System.IO.Hashing;

namespace GpuPs.Benchmarks.Wire;

/// <summary>One step of moving a payload, timed alone in this process: the least and the median of its repetitions.</summary>
public sealed record WireCost(string Step, int Bytes, double MinMicroseconds, double MedianMicroseconds);

/// <summary>
/// What the data plane does to a payload besides moving it through the socket, each step timed alone on one thread: the
/// XXH3-64 pass each side makes (as the connections make it, 256 KiB at a time), the copy a pull makes of the shard's
/// parameters into its frame, and a pooled buffer's rent and return. The least of many repetitions approaches the step's
/// cost on a quiet core even on a loaded machine; set beside a transfer's time it says what each step can cost at most.
/// </summary>
public static class WireCosts
{
    /// <summary>Times each step for a payload of <paramref name="bytes"/>, <paramref name="repetitions"/> times after a warm-up.</summary>
    public static IReadOnlyList<WireCost> Measure(int bytes, int repetitions = 200)
    {
        var source = new byte[bytes];
        var destination = new byte[bytes];
        new Random(1).NextBytes(source);
        var hash = new XxHash3();
        return
        [
            Time("XXH3-64 pass (256 KiB pieces)", () =>
            {
                hash.Reset();
                for (int at = 0; at < bytes; at += 256 << 10) hash.Append(source.AsSpan(at, Math.Min(256 << 10, bytes - at)));
                return hash.GetCurrentHashAsUInt64() != 0;
            }),
            Time("copy (shard parameters into a pull frame)", () =>
            {
                source.AsSpan().CopyTo(destination);
                return destination[0] == source[0];
            }),
            Time("pooled buffer rent + return", () =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent(bytes);
                ArrayPool<byte>.Shared.Return(buffer);
                return buffer.Length >= bytes;
            }),
        ];

        WireCost Time(string step, Func<bool> run)
        {
            for (var i = 0; i < 50; i++) run();
            var times = new double[repetitions];
            for (var i = 0; i < repetitions; i++)
            {
                long start = Stopwatch.GetTimestamp();
                if (!run()) throw new InvalidOperationException($"{step} went wrong");
                times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
            Array.Sort(times);
            return new WireCost(step, bytes, times[0], times[repetitions / 2]);
        }
    }
}
