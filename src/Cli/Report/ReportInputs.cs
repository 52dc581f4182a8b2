using System.Globalization;
using System.Text.Json;
using GpuPs.Cli.Cluster;

namespace GpuPs.Cli.Report;

/// <summary>One <c>gpups train</c> result file, as much of it as the report draws.</summary>
/// <param name="File">Its name in the folder.</param>
/// <param name="Mode">Aggregation scheme (<c>bsp</c>, <c>coded</c>, …).</param>
/// <param name="Workers">Workers of the run.</param>
/// <param name="WallSeconds">Wall time of the whole run.</param>
/// <param name="TestAccuracy">Final test accuracy.</param>
/// <param name="StepSeconds">Shard 0's step times, oldest first.</param>
/// <param name="StepLoss">Mean training loss of each of those steps.</param>
/// <param name="Timeline">Each in-process worker's steps (empty when the run had worker processes).</param>
public sealed record TrainRunInput(string File, string Mode, int Workers, double WallSeconds, double TestAccuracy,
    double[] StepSeconds, double[] StepLoss, IReadOnlyList<WorkerStepSpan> Timeline)
{
    /// <summary>How the run is named in legends: scheme and file.</summary>
    public string Label => $"{Mode} ({Path.GetFileNameWithoutExtension(File)})";
}

/// <summary>A CSV file of a benchmark: its header and rows, as text.</summary>
/// <param name="File">Its name in the folder.</param>
/// <param name="Header">Column names.</param>
/// <param name="Rows">Values, one array per row, aligned with <paramref name="Header"/>.</param>
public sealed record CsvInput(string File, string[] Header, IReadOnlyList<string[]> Rows)
{
    /// <summary>Index of <paramref name="column"/> (case-insensitive), or −1.</summary>
    public int Column(string column) => Array.FindIndex(Header, h => h.Equals(column, StringComparison.OrdinalIgnoreCase));

    /// <summary>The value of <paramref name="column"/> in <paramref name="row"/> as a number, NaN when empty or not a number.</summary>
    public double Number(string[] row, int column) =>
        column >= 0 && column < row.Length && double.TryParse(row[column], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
}

/// <summary>Finds what <c>gpups report</c> can draw in a folder: train result JSON files and benchmark CSVs (recursively).</summary>
public static class ReportInputs
{
    /// <summary>Reads every <c>*.json</c> that is a train result and every <c>*.csv</c> under <paramref name="folder"/>, skipping <paramref name="exclude"/> (the report's own folder); files it cannot read are named in <paramref name="skipped"/>.</summary>
    public static (List<TrainRunInput> Runs, List<CsvInput> Tables) Read(string folder, string exclude, List<string> skipped)
    {
        var runs = new List<TrainRunInput>();
        var tables = new List<CsvInput>();
        string excluded = Path.GetFullPath(exclude) + Path.DirectorySeparatorChar;
        foreach (string path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (Path.GetFullPath(path).StartsWith(excluded, StringComparison.Ordinal)) continue;
            string name = Path.GetRelativePath(folder, path);
            try
            {
                if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && TryReadRun(path, name) is { } run) runs.Add(run);
                else if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) tables.Add(ReadCsv(path, name));
            }
            catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException or KeyNotFoundException)
            {
                skipped.Add($"{name}: {e.Message}");
            }
        }
        return (runs, tables);
    }

    private static TrainRunInput? TryReadRun(string path, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("step_seconds", out var seconds) || !root.TryGetProperty("mode", out var mode))
            return null;   // some other JSON (a model sidecar, a config): not a run
        var timeline = root.TryGetProperty("timeline", out var spans)
            ? spans.EnumerateArray().Select(s => new WorkerStepSpan(s.GetProperty("worker").GetInt32(), s.GetProperty("step").GetInt64(),
                s.GetProperty("start_seconds").GetDouble(), s.GetProperty("end_seconds").ValueKind == JsonValueKind.Null ? null : s.GetProperty("end_seconds").GetDouble())).ToList()
            : [];
        return new TrainRunInput(name, mode.GetString()!, root.GetProperty("workers").GetInt32(), root.GetProperty("wall_seconds").GetDouble(),
            root.GetProperty("test_accuracy").GetDouble(), seconds.EnumerateArray().Select(v => v.GetDouble()).ToArray(),
            root.GetProperty("step_loss").EnumerateArray().Select(v => v.GetDouble()).ToArray(), timeline);
    }

    private static CsvInput ReadCsv(string path, string name)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) throw new FormatException("empty CSV");
        return new CsvInput(name, Split(lines[0]), lines.Skip(1).Select(Split).ToList());
    }

    /// <summary>One CSV line's fields; a quoted field may hold commas and doubled quotes.</summary>
    private static string[] Split(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return [.. fields];
    }
}
