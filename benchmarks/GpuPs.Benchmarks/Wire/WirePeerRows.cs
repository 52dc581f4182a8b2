using System.Globalization;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// Rows another system measured with the same method as <see cref="WireBenchmark"/> (ps-lite's
/// <c>benchmarks/pslite/run.sh</c>), read from its CSV to be shown beside a run's own rows: same columns as
/// <c>gpups bench wire</c>'s CSV, each row's <see cref="WireBenchmarkResult.RatioToRaw"/> taken against the raw socket of
/// the run it joins (same operation and size), so the peer is compared with the reference measured in the same sitting.
/// </summary>
public static class WirePeerRows
{
    /// <summary>The columns a peer CSV starts with, in this order (what <c>gpups bench wire</c> writes; more may follow).</summary>
    public static readonly string[] Columns =
    [
        "Path", "Operation", "Bytes", "Operations", "MeanMBps", "P50MBps", "MeanMicroseconds", "P50Microseconds", "P99Microseconds",
        "RatioToRaw", "ClientCpuMicroseconds", "ServerCpuMicroseconds",
    ];

    /// <summary>
    /// Reads the peer rows of <paramref name="path"/> and sets each one's ratio to <paramref name="measured"/>'s raw row
    /// of the same operation and size (NaN where the run has none).
    /// </summary>
    /// <exception cref="FormatException">The file's header or a row is not a wire benchmark row; the message names the file and line.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static IReadOnlyList<WireBenchmarkResult> Read(string path, IReadOnlyList<WireBenchmarkResult> measured)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || !lines[0].Split(',').Take(Columns.Length).SequenceEqual(Columns))
            throw new FormatException($"{path}:1: not a wire benchmark CSV; the header must start with {string.Join(',', Columns)}");
        var rows = new List<WireBenchmarkResult>();
        for (var n = 1; n < lines.Length; n++)
        {
            if (lines[n].Length == 0) continue;
            var f = lines[n].Split(',');
            if (f.Length < Columns.Length || f[0].Length == 0 || f[1] is not ("push" or "pull")
                || !int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) || bytes <= 0
                || !long.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var operations) || operations <= 0)
                throw new FormatException($"{path}:{n + 1}: expected path, push or pull, a positive byte count and operation count, then numbers; got '{lines[n]}'");
            double Number(int i) => double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                ? v : throw new FormatException($"{path}:{n + 1}: column {Columns[i]} is '{f[i]}', not a number");
            double raw = measured.FirstOrDefault(r => r.Path == "raw" && r.Operation == f[1] && r.Bytes == bytes)?.MeanMBps ?? double.NaN;
            rows.Add(new WireBenchmarkResult(f[0], f[1], bytes, operations, Number(4), Number(5), Number(6), Number(7), Number(8),
                Number(4) / raw, Number(10), Number(11)));
        }
        return rows;
    }
}
